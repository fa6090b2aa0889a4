"""The bake probe's judgement: the Prometheus text format, JSON key paths, ceilings, served by a real HTTP server."""

import json
import math
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._bake import (
    ProbeFailed, bake, check_metrics, json_value, parse_prometheus, prometheus_values)
from ansible_collections.oxzep7.python.plugins.module_utils._common import Runner

# The example of the specification, verbatim:
# https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-example
SPEC_EXAMPLE = r"""# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"""

# What the Python client library (prometheus_client) exposes for a process: trailing ".0" values, NaN, a line
# indented with a tab, and an OpenMetrics exemplar after a value (ignored) and its "# EOF".
CLIENT_TEXT = """# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1243.0
python_gc_objects_collected_total{generation="1"} 312.0
# HELP python_info Python platform information
# TYPE python_info gauge
python_info{implementation="CPython",major="3",minor="12",patchlevel="1",version="3.12.1"} 1.0
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.4032e+07
# HELP shop_request_errors_ratio 5xx share over the last minute
# TYPE shop_request_errors_ratio gauge
shop_request_errors_ratio{handler="/checkout",method="POST"} 0.012
shop_request_errors_ratio{handler="/checkout",method="GET"} 0.0
shop_request_errors_ratio{handler="/search",method="GET"} NaN
\tshop_request_latency_seconds{quantile="0.99"}  0.31 # {trace_id="4bf92f3577b34da6"} 0.31 1700000000.0
# EOF
"""

# The answer of the Prometheus HTTP API to an instant query, as its documentation shows it:
# https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
QUERY_ANSWER = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"__name__": "up", "job": "prometheus", "instance": "localhost:9090"}, "value": [1435781451.781, "1"]},
    {"metric": {"__name__": "up", "job": "node", "instance": "localhost:9100"}, "value": [1435781451.781, "0"]}]}}


def test_the_specification_example_parses_as_the_specification_says():
    samples = parse_prometheus(SPEC_EXAMPLE)
    assert len(samples) == 20
    assert samples[0] == ("http_requests_total", {"method": "post", "code": "200"}, 1027.0)
    # escapes in label values: \\ \" \n
    assert samples[2] == ("msdos_file_access_time_seconds",
                          {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'}, 1.458255915e9)
    assert samples[3] == ("metric_without_timestamp_and_labels", {}, 12.47)
    assert samples[4][2] == math.inf  # +Inf, with a negative timestamp
    assert prometheus_values(SPEC_EXAMPLE, "http_request_duration_seconds_bucket", {"le": "+Inf"}) == [
        ({"le": "+Inf"}, 144320.0)]
    assert prometheus_values(SPEC_EXAMPLE, "rpc_duration_seconds_sum") == [({}, 1.7560473e7)]
    assert prometheus_values(SPEC_EXAMPLE, "http_requests_total", {"method": "post"}) == [
        ({"method": "post", "code": "200"}, 1027.0), ({"method": "post", "code": "400"}, 3.0)]
    assert prometheus_values(SPEC_EXAMPLE, "http_requests_total", {"method": "get"}) == []


def test_client_library_text_and_utf8_names():
    assert prometheus_values(CLIENT_TEXT, "shop_request_latency_seconds", {"quantile": "0.99"}) == [
        ({"quantile": "0.99"}, 0.31)]
    assert math.isnan(prometheus_values(CLIENT_TEXT, "shop_request_errors_ratio", {"handler": "/search"})[0][1])
    assert prometheus_values(CLIENT_TEXT, "python_info")[0][0]["version"] == "3.12.1"
    # Prometheus 3: a quoted name inside the braces, quoted label names, a trailing comma
    assert parse_prometheus('{"http.server.errors", "http.route"="/a b", code="500",} 4\n') == [
        ("http.server.errors", {"http.route": "/a b", "code": "500"}, 4.0)]


@pytest.mark.parametrize("line", [
    'x{a="1"', 'x{a=1} 2', "x", "x 1 2 3", 'x{a="1",a="2"} 1', "1x 2", 'x{a="1} 2', "x one", 'x{a="1" b="2"} 1',
    '{a="1"} 2',
])
def test_lines_outside_the_format_are_refused_naming_the_line(line):
    with pytest.raises(ValueError, match=r"^line 2 is not in the Prometheus text format \(.+\): "):
        parse_prometheus("ok 1\n" + line + "\n")


def test_json_key_paths():
    assert json_value(QUERY_ANSWER, "data.result.0.value.1") == 1.0  # a number in a string, as the API gives it
    assert json_value(QUERY_ANSWER, "data.result.-1.value.1") == 0.0
    assert json_value({"gauges": {"jvm.memory.heap.usage": {"value": 0.7}}}, ["gauges", "jvm.memory.heap.usage", "value"]) == 0.7
    assert json_value({"errors": {"rate": 3}}, "errors.rate") == 3.0
    for doc, key, why in [(QUERY_ANSWER, "data.result.2.value.1", "data.result.2 is not in the document"),
                          (QUERY_ANSWER, "data.result.0.metric", "is {"),
                          ({"ok": True}, "ok", "is true, not a number"),
                          ({"v": "fast"}, "v", "could not convert"),
                          ({"a": 1}, "a..b", "empty segment")]:
        with pytest.raises(ValueError, match=why.replace("{", r"\{").replace(".", r"\.")):
            json_value(doc, key)


class _Served(ThreadingHTTPServer):
    """Serves ``pages`` (path -> (status, body)); a page that is a list answers its items in turn, the last one
    from then on."""

    daemon_threads = True

    def __init__(self, pages):
        self.pages = pages
        self.hits = {}
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path, userinfo=""):
        return "http://%s127.0.0.1:%d%s" % (userinfo, self.server_address[1], path)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        page = self.server.pages.get(self.path, (404, "no such page"))
        n = self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        status, body = page[min(n, len(page)) - 1] if isinstance(page, list) else page
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def served():
    server = _Served({"/metrics": (200, CLIENT_TEXT), "/spec": (200, SPEC_EXAMPLE), "/query": (200, json.dumps(QUERY_ANSWER)),
                      "/broken": (200, "ok 1\nnot a sample line at all\n"), "/down": (503, "")})
    yield server
    server.shutdown()


def test_ceilings_on_served_metrics(served):
    checkout = dict(url=served.url("/metrics"), name="shop_request_errors_ratio", labels={"handler": "/checkout"})
    assert check_metrics(dict(checkout, max=0.05), 5) == dict(metric_values=[0.012, 0.0])
    with pytest.raises(ProbeFailed, match=r'shop_request_errors_ratio\{handler="/checkout",method="POST"\} is 0.012, '
                                          r"above the ceiling 0.01$"):
        check_metrics(dict(checkout, max=0.01), 5)
    with pytest.raises(ProbeFailed, match=r"is nan, above the ceiling 1$"):  # unknown is not good
        check_metrics(dict(checkout, labels={"handler": "/search"}, max=1), 5)
    with pytest.raises(ProbeFailed, match=r'no sample of shop_request_errors_ratio\{handler="/cart"\}'):
        check_metrics(dict(checkout, labels={"handler": "/cart"}, max=1), 5)
    latency = dict(url=served.url("/spec"), name="rpc_duration_seconds", labels={"quantile": "0.99"})
    assert check_metrics(dict(latency, max=80000), 5) == dict(metric_values=[76656.0])
    with pytest.raises(ProbeFailed, match="is 76656, above the ceiling 9001"):
        check_metrics(dict(latency, max=9001), 5)
    query = dict(url=served.url("/query"), format="json", key="data.result.1.value.1")
    assert check_metrics(dict(query, max=0), 5) == dict(metric_values=[0.0])
    with pytest.raises(ProbeFailed, match=r"data\.result\.0\.value\.1 is 1, above the ceiling 0.5"):
        check_metrics(dict(query, key="data.result.0.value.1", max=0.5), 5)
    with pytest.raises(ProbeFailed, match="line 2 is not in the Prometheus text format"):
        check_metrics(dict(checkout, url=served.url("/broken"), max=1), 5)
    with pytest.raises(ProbeFailed, match="answered HTTP 503, not 2xx"):
        check_metrics(dict(checkout, url=served.url("/down"), max=1), 5)
    with pytest.raises(ProbeFailed, match="Expecting value"):
        check_metrics(dict(query, url=served.url("/metrics"), max=1), 5)


def test_bake_probes_until_the_end_or_the_first_failure(served):
    spec = dict(url=served.url("/metrics"), timeout=5, metrics=dict(
        url=served.url("/metrics"), name="shop_request_errors_ratio", labels={"method": "POST"}, max=0.05))
    runner = Runner()
    passed = bake(spec, 2, 1, runner)
    assert passed["passed"] and passed["failure"] is None and passed["probes"] == 3, passed
    assert [s["ok"] for s in passed["samples"]] == [True] * 3 and 2 <= passed["seconds"] < 4
    assert passed["samples"][0]["status"] == 200 and passed["samples"][-1]["at"] >= 1.9

    # the error ratio goes above the ceiling at the third request: the bake stops there
    served.pages["/flips"] = [(200, CLIENT_TEXT)] * 2 + [(200, CLIENT_TEXT.replace("} 0.012", "} 0.2"))]
    flips = dict(spec, url=None, metrics=dict(spec["metrics"], url=served.url("/flips")))
    failed = bake(flips, 30, 1, runner)
    assert not failed["passed"] and failed["probes"] == 3 and failed["seconds"] < 10, failed
    assert "is 0.2, above the ceiling 0.05" in failed["failure"] and failed["samples"][-1]["ok"] is False

    # credentials in a URL never reach a result
    secret = bake(dict(spec, url=served.url("/down", "ops:s3cret@"), metrics=None), 0, 1, runner)
    assert "http://***@127.0.0.1" in secret["failure"] and "s3cret" not in json.dumps(secret), secret
    # check mode: one probe, no wait, and the command is not run
    once = bake(dict(spec, command=[sys.executable, "-c", "raise SystemExit(3)"]), 60, 1, runner, check_mode=True)
    assert once["passed"] and once["probes"] == 1 and "rc" not in once["samples"][0]


def test_command_probes_exit_status_and_time_limit():
    runner = Runner()
    ok = bake(dict(command=[sys.executable, "-c", "pass"], timeout=5), 0, 1, runner)
    assert ok["passed"] and ok["samples"][0]["rc"] == 0
    bad = bake(dict(command=[sys.executable, "-c", "import sys; print('queue stuck'); sys.exit(3)"], timeout=5), 0, 1,
               runner)
    assert not bad["passed"] and bad["samples"][0]["rc"] == 3 and bad["samples"][0]["stdout"] == "queue stuck\n"
    assert bad["failure"].endswith("exited with 3: queue stuck"), bad
    slow = bake(dict(command=["sleep", "30"], timeout=1), 0, 1, runner)
    assert not slow["passed"] and "timed out after 1 s" in slow["failure"] and slow["seconds"] < 15, slow
