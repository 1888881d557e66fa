//! Secret redaction against a corpus: one realistic (fake) example per rule in
//! `tests/fixtures/secrets/corpus.json`, redacted by `redact()` and gone from everything an import
//! stores (a mini-swe-agent trajectory and a Claude Code session through the real binary:
//! `traces show --json` and the bytes of the database and its WAL); ordinary text in
//! `false_positives.json` left as it is; and every gitleaks default rule id mapped to the rule here
//! that covers its kind.

use serde::Deserialize;
use serde_json::{json, Value};
use socratic::redact::{redact, rule_names, MARK};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;
use common::{socratic, stdout_json};

#[derive(Deserialize)]
struct Example {
    rule: String,
    text: String,
    secret: String,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/secrets")
}

fn corpus() -> Vec<Example> {
    let text = std::fs::read_to_string(fixtures().join("corpus.json")).expect("corpus.json");
    serde_json::from_str(&text).expect("corpus.json parses")
}

fn false_positives() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("false_positives.json")).expect("false_positives.json");
    serde_json::from_str(&text).expect("false_positives.json parses")
}

/// Every gitleaks default rule id (config/gitleaks.toml, 222 rules) and the rule here that covers
/// its kind. `keyed-assignment` / `keyed-entropy` are the vendor rules that gitleaks anchors on a
/// vendor keyword beside a value of no distinctive shape: here the value is found by the secret
/// name it is assigned to (`ADAFRUIT_API_KEY=...`), with the entropy test for `*_CLIENT_ID`-like
/// names. Not covered: `pkcs12-file`, a rule on file names (`*.p12`), while a trace holds text.
const GITLEAKS_COVERAGE: &[(&str, &str)] = &[
    ("1password-secret-key", "1password-secret-key"),
    ("1password-service-account-token", "1password-service-account-token"),
    ("adafruit-api-key", "keyed-assignment"),
    ("adobe-client-id", "keyed-entropy"),
    ("adobe-client-secret", "adobe-client-secret"),
    ("age-secret-key", "age-secret-key"),
    ("airtable-api-key", "keyed-assignment"),
    ("airtable-personnal-access-token", "airtable-personal-access-token"),
    ("algolia-api-key", "keyed-assignment"),
    ("alibaba-access-key-id", "alibaba-access-key-id"),
    ("alibaba-secret-key", "keyed-assignment"),
    ("anthropic-admin-api-key", "anthropic-or-openai-key"),
    ("anthropic-api-key", "anthropic-or-openai-key"),
    ("artifactory-api-key", "artifactory-token"),
    ("artifactory-reference-token", "artifactory-token"),
    ("asana-client-id", "keyed-entropy"),
    ("asana-client-secret", "keyed-assignment"),
    ("atlassian-api-token", "atlassian-api-token"),
    ("authress-service-client-access-key", "authress-access-key"),
    ("aws-access-token", "aws-access-key-id"),
    ("aws-amazon-bedrock-api-key-long-lived", "aws-bedrock-api-key"),
    ("aws-amazon-bedrock-api-key-short-lived", "aws-bedrock-api-key"),
    ("azure-ad-client-secret", "azure-ad-client-secret"),
    ("beamer-api-token", "keyed-assignment"),
    ("bitbucket-client-id", "keyed-entropy"),
    ("bitbucket-client-secret", "keyed-assignment"),
    ("bittrex-access-key", "keyed-assignment"),
    ("bittrex-secret-key", "keyed-assignment"),
    ("cisco-meraki-api-key", "keyed-assignment"),
    ("clickhouse-cloud-api-secret-key", "clickhouse-cloud-api-secret-key"),
    ("clojars-api-token", "clojars-api-token"),
    ("cloudflare-api-key", "keyed-assignment"),
    ("cloudflare-global-api-key", "keyed-assignment"),
    ("cloudflare-origin-ca-key", "cloudflare-origin-ca-key"),
    ("codecov-access-token", "keyed-assignment"),
    ("cohere-api-token", "keyed-assignment"),
    ("coinbase-access-token", "keyed-assignment"),
    ("confluent-access-token", "keyed-assignment"),
    ("confluent-secret-key", "keyed-assignment"),
    ("contentful-delivery-api-token", "keyed-assignment"),
    ("curl-auth-header", "authorization-header"),
    ("curl-auth-user", "curl-user"),
    ("databricks-api-token", "databricks-api-token"),
    ("datadog-access-token", "keyed-assignment"),
    ("defined-networking-api-token", "defined-networking-api-token"),
    ("digitalocean-access-token", "digitalocean-token"),
    ("digitalocean-pat", "digitalocean-token"),
    ("digitalocean-refresh-token", "digitalocean-token"),
    ("discord-api-token", "keyed-assignment"),
    ("discord-client-id", "keyed-entropy"),
    ("discord-client-secret", "keyed-assignment"),
    ("doppler-api-token", "doppler-api-token"),
    ("droneci-access-token", "keyed-assignment"),
    ("dropbox-api-token", "keyed-assignment"),
    ("dropbox-long-lived-api-token", "keyed-assignment"),
    ("dropbox-short-lived-api-token", "dropbox-short-lived-token"),
    ("duffel-api-token", "duffel-api-token"),
    ("dynatrace-api-token", "dynatrace-api-token"),
    ("easypost-api-token", "easypost-api-token"),
    ("easypost-test-api-token", "easypost-api-token"),
    ("etsy-access-token", "keyed-assignment"),
    ("facebook-access-token", "facebook-access-token"),
    ("facebook-page-access-token", "facebook-access-token"),
    ("facebook-secret", "keyed-assignment"),
    ("fastly-api-token", "keyed-assignment"),
    ("finicity-api-token", "keyed-assignment"),
    ("finicity-client-secret", "keyed-assignment"),
    ("finnhub-access-token", "keyed-assignment"),
    ("flickr-access-token", "keyed-assignment"),
    ("flutterwave-encryption-key", "flutterwave-key"),
    ("flutterwave-public-key", "flutterwave-key"),
    ("flutterwave-secret-key", "flutterwave-key"),
    ("flyio-access-token", "flyio-token"),
    ("frameio-api-token", "frameio-api-token"),
    ("freemius-secret-key", "keyed-assignment"),
    ("freshbooks-access-token", "keyed-assignment"),
    ("gcp-api-key", "gcp-api-key"),
    ("generic-api-key", "keyed-entropy"),
    ("github-app-token", "github-token"),
    ("github-fine-grained-pat", "github-fine-grained-pat"),
    ("github-oauth", "github-token"),
    ("github-pat", "github-token"),
    ("github-refresh-token", "github-token"),
    ("gitlab-cicd-job-token", "gitlab-token"),
    ("gitlab-deploy-token", "gitlab-token"),
    ("gitlab-feature-flag-client-token", "gitlab-token"),
    ("gitlab-feed-token", "gitlab-token"),
    ("gitlab-incoming-mail-token", "gitlab-token"),
    ("gitlab-kubernetes-agent-token", "gitlab-token"),
    ("gitlab-oauth-app-secret", "gitlab-token"),
    ("gitlab-pat", "gitlab-token"),
    ("gitlab-pat-routable", "gitlab-token"),
    ("gitlab-ptt", "gitlab-token"),
    ("gitlab-rrt", "gitlab-runner-registration-token"),
    ("gitlab-runner-authentication-token", "gitlab-token"),
    ("gitlab-runner-authentication-token-routable", "gitlab-token"),
    ("gitlab-scim-token", "gitlab-token"),
    ("gitlab-session-cookie", "gitlab-session-cookie"),
    ("gitter-access-token", "keyed-assignment"),
    ("gocardless-api-token", "gocardless-api-token"),
    ("grafana-api-key", "grafana-token"),
    ("grafana-cloud-api-token", "grafana-token"),
    ("grafana-service-account-token", "grafana-token"),
    ("harness-api-key", "harness-api-key"),
    ("hashicorp-tf-api-token", "hashicorp-tf-api-token"),
    ("hashicorp-tf-password", "keyed-assignment"),
    ("heroku-api-key", "keyed-assignment"),
    ("heroku-api-key-v2", "heroku-api-key-v2"),
    ("hubspot-api-key", "keyed-assignment"),
    ("huggingface-access-token", "huggingface-token"),
    ("huggingface-organization-api-token", "huggingface-token"),
    ("infracost-api-token", "infracost-api-token"),
    ("intercom-api-key", "keyed-assignment"),
    ("intra42-client-secret", "intra42-client-secret"),
    ("jfrog-api-key", "keyed-assignment"),
    ("jfrog-identity-token", "keyed-assignment"),
    ("jwt", "jwt"),
    ("jwt-base64", "jwt-base64"),
    ("kraken-access-token", "keyed-assignment"),
    ("kubernetes-secret-yaml", "keyed-assignment"),
    ("kucoin-access-token", "keyed-assignment"),
    ("kucoin-secret-key", "keyed-assignment"),
    ("launchdarkly-access-token", "keyed-assignment"),
    ("linear-api-key", "linear-api-key"),
    ("linear-client-secret", "keyed-assignment"),
    ("linkedin-client-id", "keyed-entropy"),
    ("linkedin-client-secret", "keyed-assignment"),
    ("lob-api-key", "keyed-assignment"),
    ("lob-pub-api-key", "keyed-assignment"),
    ("looker-client-id", "keyed-entropy"),
    ("looker-client-secret", "keyed-assignment"),
    ("mailchimp-api-key", "mailchimp-api-key"),
    ("mailgun-private-api-token", "mailgun-key"),
    ("mailgun-pub-key", "mailgun-key"),
    ("mailgun-signing-key", "keyed-entropy"),
    ("mapbox-api-token", "mapbox-token"),
    ("mattermost-access-token", "keyed-assignment"),
    ("maxmind-license-key", "maxmind-license-key"),
    ("messagebird-api-token", "keyed-assignment"),
    ("messagebird-client-id", "keyed-entropy"),
    ("microsoft-teams-webhook", "microsoft-teams-webhook"),
    ("netlify-access-token", "keyed-assignment"),
    ("new-relic-browser-api-token", "new-relic-key"),
    ("new-relic-insert-key", "new-relic-key"),
    ("new-relic-user-api-id", "keyed-entropy"),
    ("new-relic-user-api-key", "new-relic-key"),
    ("notion-api-token", "notion-api-token"),
    ("npm-access-token", "npm-access-token"),
    ("nuget-config-password", "nuget-config-password"),
    ("nytimes-access-token", "keyed-assignment"),
    ("octopus-deploy-api-key", "octopus-deploy-api-key"),
    ("okta-access-token", "keyed-assignment"),
    ("openai-api-key", "anthropic-or-openai-key"),
    ("openshift-user-token", "openshift-user-token"),
    ("perplexity-api-key", "perplexity-api-key"),
    ("plaid-api-token", "plaid-access-token"),
    ("plaid-client-id", "keyed-entropy"),
    ("plaid-secret-key", "keyed-assignment"),
    ("planetscale-api-token", "planetscale-token"),
    ("planetscale-oauth-token", "planetscale-token"),
    ("planetscale-password", "planetscale-token"),
    ("postman-api-token", "postman-api-token"),
    ("prefect-api-token", "prefect-api-token"),
    ("private-key", "private-key"),
    ("privateai-api-token", "keyed-assignment"),
    ("pulumi-api-token", "pulumi-api-token"),
    ("pypi-upload-token", "pypi-upload-token"),
    ("rapidapi-access-token", "keyed-assignment"),
    ("readme-api-token", "readme-api-token"),
    ("rubygems-api-token", "rubygems-api-token"),
    ("scalingo-api-token", "scalingo-api-token"),
    ("sendbird-access-id", "keyed-entropy"),
    ("sendbird-access-token", "keyed-assignment"),
    ("sendgrid-api-token", "sendgrid-api-token"),
    ("sendinblue-api-token", "sendinblue-api-token"),
    ("sentry-access-token", "keyed-assignment"),
    ("sentry-org-token", "sentry-token"),
    ("sentry-user-token", "sentry-token"),
    ("settlemint-application-access-token", "settlemint-token"),
    ("settlemint-personal-access-token", "settlemint-token"),
    ("settlemint-service-access-token", "settlemint-token"),
    ("shippo-api-token", "shippo-api-token"),
    ("shopify-access-token", "shopify-token"),
    ("shopify-custom-access-token", "shopify-token"),
    ("shopify-private-app-access-token", "shopify-token"),
    ("shopify-shared-secret", "shopify-token"),
    ("sidekiq-secret", "sidekiq-secret"),
    ("sidekiq-sensitive-url", "url-password"),
    ("slack-app-token", "slack-app-token"),
    ("slack-bot-token", "slack-token"),
    ("slack-config-access-token", "slack-token"),
    ("slack-config-refresh-token", "slack-token"),
    ("slack-legacy-bot-token", "slack-token"),
    ("slack-legacy-token", "slack-token"),
    ("slack-legacy-workspace-token", "slack-token"),
    ("slack-user-token", "slack-token"),
    ("slack-webhook-url", "slack-webhook-url"),
    ("snyk-api-token", "keyed-assignment"),
    ("sonar-api-token", "sonar-api-token"),
    ("sourcegraph-access-token", "sourcegraph-access-token"),
    ("square-access-token", "square-access-token"),
    ("squarespace-access-token", "keyed-assignment"),
    ("stripe-access-token", "stripe-key"),
    ("sumologic-access-id", "keyed-entropy"),
    ("sumologic-access-token", "keyed-assignment"),
    ("telegram-bot-api-token", "telegram-bot-api-token"),
    ("travisci-access-token", "keyed-assignment"),
    ("twilio-api-key", "twilio-api-key"),
    ("twitch-api-token", "keyed-assignment"),
    ("twitter-access-secret", "keyed-assignment"),
    ("twitter-access-token", "keyed-assignment"),
    ("twitter-api-key", "keyed-assignment"),
    ("twitter-api-secret", "keyed-assignment"),
    ("twitter-bearer-token", "twitter-bearer-token"),
    ("typeform-api-token", "typeform-api-token"),
    ("vault-batch-token", "vault-token"),
    ("vault-service-token", "vault-token"),
    ("yandex-access-token", "yandex-token"),
    ("yandex-api-key", "yandex-token"),
    ("yandex-aws-access-token", "yandex-token"),
    ("zendesk-secret-key", "keyed-assignment"),
];

/// gitleaks default rule ids not covered, and why.
const GITLEAKS_NOT_COVERED: &[(&str, &str)] =
    &[("pkcs12-file", "matches file names (*.p12, *.pfx), and a trace holds text, not files")];

#[test]
fn every_example_is_redacted_by_its_rule() {
    let corpus = corpus();
    let names: BTreeSet<&str> = rule_names().collect();
    for example in &corpus {
        assert!(names.contains(example.rule.as_str()), "unknown rule {} in the corpus", example.rule);
        assert!(example.text.contains(&example.secret), "{}: the secret is not in its text", example.rule);
        let redacted = redact(&example.text);
        assert!(!redacted.contains(&example.secret), "{} kept its secret: {redacted}", example.rule);
        assert!(redacted.contains(MARK), "{}: {redacted}", example.rule);
    }
    let exemplified: BTreeSet<&str> = corpus.iter().map(|e| e.rule.as_str()).collect();
    let missing: Vec<&&str> = names.difference(&exemplified).collect();
    assert!(missing.is_empty(), "rules without an example in the corpus: {missing:?}");
}

#[test]
fn ordinary_text_is_left_alone() {
    for text in false_positives() {
        assert_eq!(redact(&text), text.as_str(), "changed");
    }
}

#[test]
fn every_gitleaks_rule_id_is_mapped_to_a_rule_with_an_example() {
    let names: BTreeSet<&str> = rule_names().collect();
    let ids: BTreeSet<&str> = GITLEAKS_COVERAGE.iter().chain(GITLEAKS_NOT_COVERED).map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 222, "gitleaks' default config has 222 rule ids");
    for (id, rule) in GITLEAKS_COVERAGE {
        assert!(names.contains(rule), "{id} maps to unknown rule {rule}");
    }
    // The vendor rules found by their name: `VENDOR_..._SECRET=value` in env, JSON and YAML forms.
    let value = "Zq8Xv2Lm9Rt4Pw7Kc3Nb6Hy1Jd5Fg0Sa";
    for (id, rule) in GITLEAKS_COVERAGE.iter().filter(|(_, r)| r.starts_with("keyed-")) {
        let name = if *id == "kubernetes-secret-yaml" { "password".to_string() } else { id.replace('-', "_") };
        for text in [
            format!("{}={value}", name.to_uppercase()),
            format!("{{\"{name}\": \"{value}\"}}"),
            format!("data:\n  {name}: {value}\n"),
        ] {
            let redacted = redact(&text);
            assert!(!redacted.contains(value), "{id} ({rule}) kept its value: {redacted}");
        }
    }
}

#[test]
fn reported_leaks_are_redacted() {
    // The leaks that the hardening issue found stored, each in the form it was found.
    for (text, secret) in [
        ("AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDexampleexampleexampleexampleexample0", "IQoJb3"),
        ("ADMIN_PASSWORD=\"correct horse battery staple\"", "battery staple"),
        ("redis-cli -u redis://:s3cretRedisPass@cache:6379", "s3cretRedisPass"),
        ("DB_PASS=Tr0ub4dor&3", "Tr0ub4dor"),
        ("curl -u admin:Adm1nPassw0rd http://localhost:8080/api", "Adm1nPassw0rd"),
        ("NPM_TOKEN=npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "npm_aBcD"),
    ] {
        let redacted = redact(text);
        assert!(!redacted.contains(secret), "{redacted}");
    }
}

/// A mini-swe-agent (v1, text actions) trajectory whose commands and outputs are the corpus.
fn mini_swe_agent_trajectory(texts: &[String]) -> Value {
    let mut messages = vec![
        json!({"role": "system", "content": "You are a helpful assistant that can interact with a computer shell."}),
        json!({"role": "user", "content": "<pr_description>\nRotate the deployment credentials.\n</pr_description>"}),
    ];
    for text in texts {
        messages.push(json!({"role": "assistant", "content": format!("THOUGHT: Try it.\n\n```bash\n{text}\n```")}));
        messages.push(
            json!({"role": "user", "content": format!("<returncode>0</returncode>\n<output>\n{text}\n</output>")}),
        );
    }
    json!({
        "info": {
            "exit_status": "Submitted",
            "submission": format!("diff --git a/.env b/.env\n+{}\n", texts.join("\n+")),
            "model_stats": {"instance_cost": 0.01, "api_calls": texts.len()},
            "mini_version": "1.15.0",
            "config": {"model": {"model_name": "anthropic/claude-sonnet-4-20250514"}},
        },
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1",
        "instance_id": "acme__deploy-7",
    })
}

/// A Claude Code session whose Bash commands and tool results are the corpus.
fn claude_code_session(texts: &[String]) -> String {
    let session = "6f1c2a7e-0000-4000-8000-00000000beef";
    let line = |uuid: String, kind: &str, message: Value| {
        json!({
            "type": kind, "timestamp": "2025-06-14T10:00:00Z", "cwd": "/home/dev/deploy", "sessionId": session,
            "version": "1.0.98", "uuid": uuid, "message": message,
        })
        .to_string()
    };
    let mut lines = vec![line(
        "u0".into(),
        "user",
        json!({"role": "user", "content": "Rotate the deployment credentials and check they work."}),
    )];
    for (i, text) in texts.iter().enumerate() {
        let id = format!("toolu_{i:03}");
        lines.push(line(
            format!("a{i}"),
            "assistant",
            json!({"role": "assistant", "model": "claude-sonnet-4-20250514", "content": [
                {"type": "text", "text": format!("Running: {text}")},
                {"type": "tool_use", "id": id, "name": "Bash", "input": {"command": text}},
            ]}),
        ));
        lines.push(line(
            format!("r{i}"),
            "user",
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": text, "is_error": false}]}),
        ));
    }
    lines.join("\n") + "\n"
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn imported_trajectories_store_no_secret() {
    let corpus = corpus();
    let texts: Vec<String> = corpus.iter().map(|e| e.text.clone()).collect();
    let inputs = tempfile::tempdir().unwrap();
    let traj = inputs.path().join("acme__deploy-7.traj.json");
    std::fs::write(&traj, serde_json::to_string_pretty(&mini_swe_agent_trajectory(&texts)).unwrap()).unwrap();
    let session = inputs.path().join("session.jsonl");
    std::fs::write(&session, claude_code_session(&texts)).unwrap();

    let home = tempfile::tempdir().unwrap();
    for file in [&traj, &session] {
        let out = socratic(home.path(), &["traces", "import", file.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let report = stdout_json(&out);
        assert_eq!(report["imported"]["traces"], 1, "{report:#}");
    }
    let list = stdout_json(&socratic(home.path(), &["traces", "list", "--json"]));
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    let mut shown = String::new();
    for id in ids {
        let out = socratic(home.path(), &["traces", "show", id, "--json"]);
        assert_eq!(out.status.code(), Some(0));
        shown.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // The text around the secrets made it in, so their absence means something.
    assert!(shown.contains("manage.py createsuperuser") && shown.contains(MARK), "{shown}");
    let mut stored = std::fs::read(home.path().join("socratic.db")).unwrap();
    stored.extend(std::fs::read(home.path().join("socratic.db-wal")).unwrap_or_default());
    for example in &corpus {
        assert!(!shown.contains(&example.secret), "{} shown by traces show --json", example.rule);
        assert!(!contains(&stored, &example.secret), "{} stored in the database file", example.rule);
    }
}

#[test]
fn redaction_throughput_is_linear() {
    // A large trajectory-like text: fixture shaped messages, the corpus and the ordinary text.
    let corpus = corpus();
    let mut chunk = String::new();
    for example in &corpus {
        chunk.push_str(&example.text);
        chunk.push('\n');
    }
    for text in false_positives() {
        chunk.push_str(&text);
        chunk.push('\n');
    }
    let chunk = chunk.repeat(4);
    let measure = |copies: usize| {
        let text = chunk.repeat(copies);
        let start = std::time::Instant::now();
        let redacted = redact(&text);
        let seconds = start.elapsed().as_secs_f64();
        assert!(!redacted.contains(&corpus[0].secret));
        (text.len(), seconds)
    };
    let (small_len, small_s) = measure(10);
    let (large_len, large_s) = measure(80);
    let mb_per_s = large_len as f64 / 1e6 / large_s;
    eprintln!("redact: {:.1} MB in {large_s:.3} s = {mb_per_s:.1} MB/s", large_len as f64 / 1e6);
    // Eight times the text may not cost much more than eight times the time.
    assert!(large_s < small_s * 8.0 * 3.0 + 0.5, "{small_len} B: {small_s:.3} s, {large_len} B: {large_s:.3} s");
    assert!(mb_per_s > 0.25, "{mb_per_s:.2} MB/s");
}

#[test]
fn large_trajectory_import_throughput() {
    // A mini-swe-agent trajectory of a few MB: ordinary shell output with the corpus spread in.
    let corpus = corpus();
    let ordinary = false_positives().join("\n");
    let texts: Vec<String> =
        (0..600).map(|i| format!("{ordinary}\n{}\n{ordinary}", corpus[i % corpus.len()].text).repeat(3)).collect();
    let bytes = serde_json::to_vec(&mini_swe_agent_trajectory(&texts)).unwrap();
    let start = std::time::Instant::now();
    let (format, records) =
        socratic::traces::parse_file(Path::new("acme__deploy-7.traj.json"), &bytes).expect("the trajectory parses");
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(format, "mini-swe-agent");
    let stored = serde_json::to_string(&records).unwrap();
    for example in &corpus {
        assert!(!stored.contains(&example.secret), "{} kept", example.rule);
    }
    let mb = bytes.len() as f64 / 1e6;
    eprintln!("parse + redact: {mb:.1} MB trajectory in {seconds:.3} s = {:.1} MB/s", mb / seconds);
    assert!(mb / seconds > 0.25, "{:.2} MB/s", mb / seconds);
}

proptest::proptest! {
    /// Any text, multi-byte characters and half-finished assignments included: no panic, and a
    /// second pass changes nothing.
    #[test]
    fn redaction_never_panics_and_is_stable(
        prefix in "\\PC{0,40}",
        name in "(password|api_key|TOKEN|--secret|auth|client_id)",
        separator in "(=|: |\": \"|=\"|'| )",
        value in "\\PC{0,40}",
    ) {
        let text = format!("{prefix}{name}{separator}{value}");
        let once = redact(&text).into_owned();
        proptest::prop_assert_eq!(redact(&once).into_owned(), once);
    }
}
