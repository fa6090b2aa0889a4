"""_notify: what a warning may show of a webhook URL, and how python_upgrade_notify is read."""

from ansible_collections.oxzep7.python.plugins.plugin_utils._notify import scrub, shown, targets

SLACK = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS = "https://prod-07.westeurope.logic.azure.com:443/workflows/0123456789abcdef/triggers/manual/paths/invoke" \
        "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
BASIC = "https://alerts:hunter2secret@alerts.example:8443/hook"


def test_shown_keeps_only_scheme_host_and_port():
    assert shown(SLACK) == "https://hooks.slack.com/…"
    assert shown(TEAMS) == "https://prod-07.westeurope.logic.azure.com:443/…"
    assert shown(BASIC) == "https://alerts.example:8443/…"
    assert shown("http://host:notaport/x") == "(a URL that cannot be read)"


def test_scrub_cuts_every_part_of_the_url_out_of_a_message():
    for url, secret in ((SLACK, "XXXXXXXXXXXXXXXXXXXXXXXX"), (TEAMS, "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
                        (BASIC, "hunter2secret")):
        text = scrub("<urlopen error for %s: bad thing at %s, %s>" % (url, url.split("//", 1)[1], secret), url)
        assert secret not in text and "…" in text, text


def test_targets_reads_urls_and_dicts_and_names_bad_entries_without_their_secret():
    found, problems = targets([SLACK, dict(url=TEAMS, format="teams"), dict(url="ftp://files.example/%s" % SLACK),
                               dict(url=SLACK, format="mattermost"), dict(url=SLACK, format="slack", token="x"), 42])
    assert [(t["url"], t["format"], t["shown"]) for t in found] == [
        (SLACK, "json", "https://hooks.slack.com/…"), (TEAMS, "teams", "https://prod-07.westeurope.logic.azure.com:443/…")]
    assert [p.split(" ", 1)[0] for p in problems] == ["python_upgrade_notify[%d]" % i for i in (2, 3, 4, 5)]
    assert not [p for p in problems if "XXXXXXXX" in p or "services" in p], problems
    assert targets(None) == ([], []) and targets([]) == ([], [])
    assert targets(SLACK)[0] == [] and "must be a list" in targets(SLACK)[1][0]
