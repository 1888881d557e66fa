#!/usr/bin/env bash
# Environment survey: for PyPI source distributions made into git repositories, as a new user
# would use them with no per-repository flags: `env build`, `tasks generate` (40 candidates,
# default generation), `tasks validate`; one row per repository and the totals.
#
#   bench/env_survey.sh WORKDIR [SOCRATIC_BINARY] [NAME==VERSION ...]
#
# Without NAME==VERSION arguments the default list below is surveyed. WORKDIR receives the
# downloaded sdists (dl/), the repositories (repos/), a socratic home (home/), one log per
# repository and step (logs/), and rows.tsv. Needs a Docker engine with the base image and
# network access to PyPI. Set SURVEY_FREE_GB (default 15): when the root file system has less
# free space than that after a row, the repository's environment image is removed.
set -uo pipefail
work=${1:?usage: bench/env_survey.sh WORKDIR [SOCRATIC_BINARY] [NAME==VERSION ...]}
socratic=${2:-$(dirname "$0")/../target/release/socratic}
socratic=$(realpath "$socratic")
shift $(( $# >= 2 ? 2 : $# ))
free_gb=${SURVEY_FREE_GB:-15}

default=(
    # The 18 of the issue.
    flask==3.0.3 jinja2==3.1.4 click==8.1.7 attrs==24.2.0 python-dateutil==2.9.0.post0 packaging==24.1
    more-itertools==10.5.0 six==1.16.0 pyparsing==3.1.4 wcwidth==0.2.13 humanize==4.10.0 tabulate==0.9.0
    boltons==24.0.0 toolz==0.12.1 simplejson==3.19.3 idna==3.8 toml==0.10.2 markupsafe==2.1.5
    # Ten more with tests in their sdist.
    cachetools==5.5.2 itsdangerous==2.2.0 blinker==1.8.2 pathspec==0.12.1 jmespath==1.0.1 semver==3.0.2
    parse==1.20.2 pluggy==1.5.0 tomlkit==0.13.2 markupsafe==3.0.2
)
if [ $# -gt 0 ]; then list=("$@"); else list=("${default[@]}"); fi

mkdir -p "$work"/{dl,repos,home,logs}
cd "$work" || exit 2
work=$(pwd)
home=$work/home
rows=$work/rows.tsv

# The unpacked sdist of NAME==VERSION as a one-commit git repository; prints its path.
make_repo() {
    local spec=$1 name=${1%%==*} version=${1##*==}
    local dir
    dir=$work/repos/$(echo "$name" | tr 'A-Z_.' 'a-z--')-$version
    if [ ! -d "$dir/.git" ]; then
        # `--no-binary NAME`, not `:all:`: the sdist of the package itself, while the build
        # dependencies pip installs to read its metadata may be wheels (`:all:` builds each of
        # them from source too: minutes per package).
        [ -n "$(ls "$work/dl/$spec" 2>/dev/null)" ] ||
            python3 -m pip download -q --no-binary "$name" --no-deps -d "$work/dl/$spec" "$spec" >"$work/logs/$spec.download" 2>&1 ||
            return 1
        local archive
        archive=$(ls "$work/dl/$spec"/* | head -n1)
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        case $archive in
            *.zip) python3 -m zipfile -e "$archive" "$dir.tmp" ;;
            *) tar --no-same-owner -xf "$archive" -C "$dir.tmp" ;;
        esac
        mv "$dir.tmp"/* "$dir" && rm -rf "$dir.tmp"
        (cd "$dir" && git init -q && git add -A && git -c user.name=survey -c user.email=survey@localhost commit -qm "$spec") || return 1
    fi
    echo "$dir"
}

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>/dev/null; }
oneline() { tr '\n\t' '  ' | sed 's/  */ /g' | cut -c1-"${1:-300}"; }

for spec in "${list[@]}"; do
    log=$work/logs/$spec
    if ! repo=$(make_repo "$spec"); then
        printf '%s\terror\tdownload failed: %s\t0\t-\t0\t0\t-\t-\n' "$spec" "$(oneline 200 <"$log.download")" >>"$rows"
        continue
    fi
    start=$(date +%s.%N)
    "$socratic" --home "$home" env build --repo "$repo" --json >"$log.env.json" 2>"$log.env.err"
    rc=$?
    build_s=$(python3 -c "import time; print(f'{time.time() - $start:.0f}')")
    if [ $rc -ne 0 ]; then
        msg=$(grep -v '^building\|^no base image' "$log.env.err" | oneline 400)
        case $msg in *refusing*) state=refused ;; *) state=error ;; esac
        printf '%s\t%s\t%s\t%s\t-\t0\t0\t-\t-\n' "$spec" "$state" "$msg" "$build_s" >>"$rows"
        continue
    fi
    tests=$(json 'str(d["passing"]) + "/" + str(d["tests"])' <"$log.env.json")
    image=$(json 'd["image"]' <"$log.env.json")
    # Said when the clean run measured executed lines without per-test contexts.
    note=$(json 'd.get("coverage_note") or ""' <"$log.env.json")
    "$socratic" --home "$home" tasks generate --repo "$repo" --budget 40 --json >"$log.gen.json" 2>"$log.gen.err"
    candidates=$(json 'd["generated"]' <"$log.gen.json")
    candidates=${candidates:-0}
    msg=${note:+coverage: $note}
    valid=0 yield=- ms=-
    if [ "$candidates" -gt 0 ]; then
        "$socratic" --home "$home" tasks validate --repo "$repo" --json >"$log.val.json" 2>"$log.val.err"
        valid=$(json 'd["valid"]' <"$log.val.json")
        yield=$(json 'format(d["yield_rate"] * 100, ".0f") + "%"' <"$log.val.json")
        ms=$(json 'format(d["ms_per_candidate"], ".0f")' <"$log.val.json")
        [ -n "$valid" ] || { valid=0; msg="validate failed: $(oneline 300 <"$log.val.err")"; }
    else
        msg="$msg $(oneline 300 <"$log.gen.err")"
    fi
    printf '%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$spec" "$msg" "$build_s" "$tests" "$candidates" "$valid" "$yield" "$ms" >>"$rows"
    avail=$(df -BG --output=avail / | tail -n1 | tr -dc '0-9')
    if [ "${avail:-0}" -lt "$free_gb" ] && [ -n "$image" ]; then
        docker image rm "$image" >/dev/null 2>&1 || true
    fi
done

# The table: every row of rows.tsv (so runs over several lists add up), then the totals.
python3 - "$rows" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
seen = {}
for r in rows:
    seen[r[0]] = r  # the last run of a repository counts
rows = list(seen.values())
print("| repository | env | build s | tests passing/total | candidates | valid | yield | ms/candidate | message |")
print("|---|---|---|---|---|---|---|---|---|")
for spec, state, msg, build, tests, cand, valid, yld, ms in rows:
    print(f"| {spec} | {state} | {build} | {tests} | {cand} | {valid} | {yld} | {ms} | {msg.replace('|', '/')} |")
n = len(rows)
ok = sum(r[1] == "ok" for r in rows)
tasks = sum(r[6] not in ("", "0") for r in rows)
yields = [float(r[7].rstrip("%")) for r in rows if r[7].endswith("%")]
cand = sum(int(r[5] or 0) for r in rows)
valid = sum(int(r[6] or 0) for r in rows)
print()
print(f"totals: {n} repositories; environments {ok}/{n} ({100*ok/max(n,1):.0f}%); with tasks {tasks}/{n} "
      f"({100*tasks/max(n,1):.0f}%); {cand} candidates, {valid} valid; median yield "
      f"{statistics.median(yields) if yields else 0:.0f}%")
EOF
