"""A custom reward function for verl that grades each rollout with `socratic serve`.

In: verl's call ``compute_score(data_source, solution_str, ground_truth, extra_info=None)`` for
one rollout: ``solution_str`` is the model's answer (the fix as a unified diff, in a fenced
```diff block or bare), ``ground_truth`` the instance id that ``socratic export --format verl``
wrote into ``reward_model.ground_truth``. Out: the reward, 1.0 when the patch resolves the task
(its FAIL_TO_PASS tests pass and the whole PASS_TO_PASS suite still passes) and 0.0 otherwise,
graded by ``POST /v1/grade`` in the service's warm workers.

Configuration (environment variables, read at each call):

- ``SOCRATIC_SERVE_URL``: the service (default ``http://127.0.0.1:8321``).
- ``SOCRATIC_SERVE_TOKEN``: the bearer token, else ``SOCRATIC_SERVE_TOKEN_FILE``, else
  ``$SOCRATIC_HOME/serve.token``.
- ``SOCRATIC_SERVE_TIMEOUT``: seconds one request may take (default 900).

A patch the model wrote badly (not a diff, or one that does not apply to the task's tree) scores
0.0; a full queue (429) is waited out as its Retry-After says; an unknown instance, a wrong token
or an unreachable service raises, since those are configuration errors, not the model's.
Standard library only, so it runs in any verl worker.
"""

import json
import os
import re
import time
import urllib.error
import urllib.request

__all__ = ["compute_score", "extract_patch", "grade"]

_FENCED = re.compile(r"```(?:diff|patch)?[ \t]*\n(.*?)```", re.DOTALL)
_DIFF_START = re.compile(r"^(diff --git |--- )", re.MULTILINE)


def extract_patch(solution_str):
    """The unified diff in a model's answer: the last fenced block that holds one, else the
    text from the first ``diff --git`` / ``---`` line on; empty when there is none."""
    if not solution_str:
        return ""
    for block in reversed(_FENCED.findall(solution_str)):
        if _DIFF_START.search(block):
            return block if block.endswith("\n") else block + "\n"
    match = _DIFF_START.search(solution_str)
    if not match:
        return ""
    patch = solution_str[match.start():]
    return patch if patch.endswith("\n") else patch + "\n"


def _token():
    token = os.environ.get("SOCRATIC_SERVE_TOKEN")
    if token:
        return token.strip()
    path = os.environ.get("SOCRATIC_SERVE_TOKEN_FILE")
    if not path:
        home = os.environ.get("SOCRATIC_HOME")
        if not home:
            raise RuntimeError(
                "socratic_reward: set SOCRATIC_SERVE_TOKEN, SOCRATIC_SERVE_TOKEN_FILE or SOCRATIC_HOME"
            )
        path = os.path.join(home, "serve.token")
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def grade(instance_id, patch, url=None, token=None, timeout=None, max_waits=60):
    """``POST /v1/grade``: the service's answer as a dict (``resolved``, ``reward``,
    ``fail_to_pass``, ``pass_to_pass``, ...). 429 answers are retried after their Retry-After;
    other errors raise ``RuntimeError`` with the service's message (its ``field`` says which
    input was wrong)."""
    url = (url or os.environ.get("SOCRATIC_SERVE_URL") or "http://127.0.0.1:8321").rstrip("/")
    token = token or _token()
    timeout = float(timeout or os.environ.get("SOCRATIC_SERVE_TIMEOUT") or 900)
    body = json.dumps({"instance_id": instance_id, "patch": patch}).encode("utf-8")
    for _ in range(max_waits + 1):
        request = urllib.request.Request(
            url + "/v1/grade",
            data=body,
            method="POST",
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            if e.code == 429:
                time.sleep(float(e.headers.get("Retry-After") or 1))
                continue
            try:
                answer = json.loads(text)
            except ValueError:
                answer = {"error": text, "field": None}
            raise _ServiceError(e.code, answer) from None
    raise RuntimeError("socratic serve stayed busy (429) for %d tries" % (max_waits + 1))


class _ServiceError(RuntimeError):
    def __init__(self, status, answer):
        self.status = status
        self.field = answer.get("field")
        super().__init__("socratic serve answered %d: %s" % (status, answer.get("error")))


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """verl's custom reward function: 1.0 when the answer's patch resolves the instance."""
    instance_id = ground_truth
    if not instance_id and isinstance(extra_info, dict):
        instance_id = extra_info.get("instance_id")
    patch = extract_patch(solution_str)
    try:
        answer = grade(instance_id, patch)
    except _ServiceError as e:
        # The model's patch is not a diff or does not apply: no reward, not a crash.
        if e.status in (400, 413, 422) and e.field and e.field.endswith("patch"):
            return 0.0
        raise
    return float(answer["reward"])
