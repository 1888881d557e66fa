//! The rules table: secrets recognised by their own shape, wherever they appear.
//!
//! Each rule is a name and a pattern whose whole match is the secret. Patterns use `\b` for an
//! ASCII word boundary (it is compiled as `(?-u:\b)`), have no look-around and no back-references,
//! so all of them run together as one linear pass. Secrets recognised by the name they are
//! assigned to (`DB_PASS=...`, `"api_key": "..."`) are `keyed.rs`'s, not this table's.

/// One shape of secret.
pub struct TokenRule {
    /// What the secret is, as the test corpus and the gitleaks coverage table name it.
    pub name: &'static str,
    /// The pattern; its whole match is replaced.
    pub pattern: &'static str,
}

const fn rule(name: &'static str, pattern: &'static str) -> TokenRule {
    TokenRule { name, pattern }
}

/// Every shape rule, most specific first (the combined pattern takes the first that matches at a
/// position).
pub const TOKEN_RULES: &[TokenRule] = &[
    // Cloud providers.
    rule(
        "aws-access-key-id",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z2-7]{16}\b",
    ),
    rule("aws-session-token", r"\b(?:FwoGZXIvYXdz|FQoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{80,}"),
    rule("aws-bedrock-api-key", r"\b(?:ABSK[A-Za-z0-9+/]{100,}={0,2}|bedrock-api-key-[A-Za-z0-9+/=]{40,})"),
    rule("gcp-api-key", r"\bAIza[0-9A-Za-z_-]{35}"),
    rule("azure-ad-client-secret", r"\b[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}"),
    rule("alibaba-access-key-id", r"\bLTAI[A-Za-z0-9]{20}\b"),
    rule(
        "yandex-token",
        r"\b(?:YC[A-Za-z0-9_-]{38}|AQVN[A-Za-z0-9_-]{35,38}|t1\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]{86}={0,2})",
    ),
    rule("cloudflare-origin-ca-key", r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
    rule("digitalocean-token", r"\bdo[opr]_v1_[a-f0-9]{64}"),
    rule("heroku-api-key-v2", r"\bHRKU-[A-Za-z0-9_-]{30,}"),
    rule("flyio-token", r"\b(?:fo1_[A-Za-z0-9_-]{39,}|fm[12][ar]?_[A-Za-z0-9+/=_-]{60,})"),
    rule("scalingo-api-token", r"\btk-us-[A-Za-z0-9_-]{40,}"),
    rule("openshift-user-token", r"\bsha256~[A-Za-z0-9_-]{43}"),
    rule("vault-token", r"\b(?:hvs|hvb|hvr)\.[A-Za-z0-9_-]{24,}"),
    rule("hashicorp-tf-api-token", r"\b[a-z0-9]{14}\.atlasv1\.[a-z0-9_=-]{60,70}"),
    rule("pulumi-api-token", r"\bpul-[a-f0-9]{40}\b"),
    rule("doppler-api-token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"),
    rule("databricks-api-token", r"\bdapi[a-f0-9]{32}(?:-[0-9])?\b"),
    rule("planetscale-token", r"\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9_.=-]{32,64}"),
    rule("clickhouse-cloud-api-secret-key", r"\b4b1d[A-Za-z0-9]{38}\b"),
    rule("defined-networking-api-token", r"\bdnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}"),
    rule("prefect-api-token", r"\bpnu_[A-Za-z0-9]{36}\b"),
    rule("harness-api-key", r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}\b"),
    rule("infracost-api-token", r"\bico-[A-Za-z0-9]{32}\b"),
    rule("octopus-deploy-api-key", r"\bAPI-[A-Z0-9]{26}\b"),
    rule("settlemint-token", r"\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{16}\b"),
    // Version control, CI and package registries.
    rule("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b"),
    rule("github-fine-grained-pat", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
    rule(
        "gitlab-token",
        r"\b(?:glpat|glcbt|gldt|glffct|glft|glimt|glagent|gloas|glptt|glrt|glsoat)-[A-Za-z0-9_.-]{20,}",
    ),
    rule("gitlab-runner-registration-token", r"\bGR1348941[A-Za-z0-9_-]{20,}"),
    rule("gitlab-session-cookie", r"_gitlab_session=[0-9a-z]{32}"),
    rule("bitbucket-app-password", r"\bATBB[A-Za-z0-9_=.-]{24,}"),
    rule("atlassian-api-token", r"\bATATT3[A-Za-z0-9_=-]{50,}"),
    rule("airtable-personal-access-token", r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b"),
    rule("dropbox-short-lived-token", r"\bsl\.[A-Za-z0-9_=-]{130,}"),
    rule("npm-access-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    rule("pypi-upload-token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    rule("rubygems-api-token", r"\brubygems_[a-f0-9]{48}\b"),
    rule("clojars-api-token", r"\bCLOJARS_[A-Za-z0-9]{60}\b"),
    rule("artifactory-token", r"\b(?:AKCp[A-Za-z0-9]{69}|cmVmd[A-Za-z0-9]{59})\b"),
    rule("sourcegraph-access-token", r"\bsgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}\b"),
    rule("sonar-api-token", r"\bsq[uap]_[a-f0-9]{40}\b"),
    rule("readme-api-token", r"\brdme_[a-z0-9]{70}\b"),
    rule("postman-api-token", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
    rule("typeform-api-token", r"\btfp_[A-Za-z0-9_.=-]{59}"),
    rule("frameio-api-token", r"\bfio-u-[A-Za-z0-9_=-]{64}"),
    rule("linear-api-key", r"\blin_api_[A-Za-z0-9]{40}\b"),
    rule("notion-api-token", r"\bntn_[A-Za-z0-9]{40,}"),
    rule("sentry-token", r"\b(?:sntrys_eyJ[A-Za-z0-9+/=_-]{50,}|sntryu_[a-f0-9]{64})"),
    rule(
        "grafana-token",
        r"\b(?:eyJrIjoi[A-Za-z0-9]{70,400}={0,3}|glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    rule("dynatrace-api-token", r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}\b"),
    rule("new-relic-key", r"\b(?:NRJS-[a-f0-9]{19}|NRII-[A-Za-z0-9-]{32}|NRAK-[A-Za-z0-9]{27})\b"),
    rule(
        "1password-secret-key",
        r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
    ),
    rule("1password-service-account-token", r"\bops_eyJ[A-Za-z0-9+/]{100,}={0,3}"),
    rule("age-secret-key", r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b"),
    rule(
        "authress-access-key",
        r"\b(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,120}",
    ),
    // Payments and commerce.
    rule("stripe-key", r"\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}\b"),
    rule("stripe-webhook-secret", r"\bwhsec_[A-Za-z0-9]{24,}\b"),
    rule("square-access-token", r"\b(?:EAAA|sq0atp-|sq0csp-)[A-Za-z0-9_-]{22,60}\b"),
    rule("shopify-token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
    rule("flutterwave-key", r"\bFLW(?:PUBK|SECK)_TEST-[a-h0-9]{32}-X\b|\bFLWSECK_TEST[a-h0-9]{12}\b"),
    rule("gocardless-api-token", r"\blive_[A-Za-z0-9_=-]{40}\b"),
    rule(
        "plaid-access-token",
        r"\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
    ),
    rule("duffel-api-token", r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}"),
    rule("easypost-api-token", r"\bEZ[AT]K[A-Za-z0-9]{54}\b"),
    rule("shippo-api-token", r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b"),
    rule("adobe-client-secret", r"\bp8e-[A-Za-z0-9]{32}\b"),
    rule("maxmind-license-key", r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b"),
    // Messaging and mail.
    rule("slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxoxe\.xox[bp]-1-[A-Za-z0-9]{100,}"),
    rule("slack-app-token", r"\bxapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+"),
    rule("slack-webhook-url", r"(?i)https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]{20,}"),
    rule("microsoft-teams-webhook", r"(?i)https?://[a-z0-9.-]*\.webhook\.office\.com/webhookb2/[^\s'\x22<>\\]+"),
    rule(
        "discord-webhook-url",
        r"(?i)https?://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]{20,}",
    ),
    rule("discord-bot-token", r"\b[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}\b"),
    rule("telegram-bot-api-token", r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}\b"),
    rule("twilio-api-key", r"\bSK[0-9a-fA-F]{32}\b"),
    rule("sendgrid-api-token", r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}\b"),
    rule("sendinblue-api-token", r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b"),
    rule("mailgun-key", r"\b(?:key|pubkey)-[a-f0-9]{32}\b"),
    rule("mailchimp-api-key", r"\b[a-f0-9]{32}-us[0-9]{1,2}\b"),
    rule("intra42-client-secret", r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b"),
    rule("mapbox-token", r"\b(?:pk|sk|tk)\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),
    rule("facebook-access-token", r"\bEAA[MC][A-Za-z0-9]{100,}"),
    rule("twitter-bearer-token", r"\bA{22}[A-Za-z0-9%]{80,100}"),
    // AI providers.
    rule(
        "anthropic-or-openai-key",
        r"\bsk-(?:ant-(?:api|admin|sid)[0-9]{2}-|proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{16,}",
    ),
    rule("huggingface-token", r"\b(?:hf_[A-Za-z0-9]{30,}|api_org_[A-Za-z0-9]{34})\b"),
    rule("perplexity-api-key", r"\bpplx-[A-Za-z0-9]{48}\b"),
    rule("groq-or-xai-key", r"\b(?:gsk|xai)[_-][A-Za-z0-9]{40,}\b"),
    // Generic shapes.
    rule("jwt", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),
    rule("jwt-base64", r"\bZXlK[A-Za-z0-9+/]{40,}={0,2}"),
];

/// A PEM private key block, `BEGIN` to `END` across lines (or to the end of its base64 when the
/// `END` line was cut off). Its own pattern because the block spans lines.
pub const PRIVATE_KEY: &str = r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)";

/// Secrets inside a context that is kept: groups 1 and 3 (if any) are kept, group 2 is the secret.
pub const CONTEXT_RULES: &[TokenRule] = &[
    // `scheme://user:password@host`, `redis://:password@host`. Not a `$VARIABLE` (nor below).
    rule("url-password", r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\x22]*:)([^\s@/'\x22$][^\s@/'\x22]*)(@)"),
    // `curl -u admin:password`, `--user=admin:password`.
    rule("curl-user", r#"(\bcurl\b[^\n]*?\s(?:-u|--user)(?:\s+|=)['"]?[^\s:'"]*:)([^\s'"$][^\s'"]*)"#),
    // `Authorization: Bearer xyz` as a header line, a `-H` argument or a JSON member.
    rule(
        "authorization-header",
        r#"(?i)((?:proxy-)?authorization\\{0,3}["']?\s*[:=]\s*\\{0,3}["']?\s*(?:(?:bearer|basic|token|digest|apikey|bot|sso-key|key)\s+)?)([^\s"'\\,;}$][^\s"'\\,;}]{5,})"#,
    ),
    // NuGet's `<add key="ClearTextPassword" value="..."/>`.
    rule("nuget-config-password", r#"(?i)(key\s*=\s*"(?:ClearText)?Password"\s+value\s*=\s*")([^"]+)"#),
    // Sidekiq's gem server credentials `BUNDLE_GEMS__CONTRIBSYS__COM=aaaa1111:bbbb2222`.
    rule(
        "sidekiq-secret",
        r"(?i)(BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM\s*[:=]\s*['\x22]?)([a-f0-9]{8}:[a-f0-9]{8})",
    ),
];
