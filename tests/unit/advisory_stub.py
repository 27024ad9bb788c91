"""A stand-in advisory source on 127.0.0.1 for the audit tests: the npm registry's bulk advisory endpoint
(what `npm audit` POSTs to) and OSV's query endpoint (what `pip-audit -s osv` POSTs to), answering with the real
advisories of the test fixtures. The real sources cannot be used for that here: this machine's proxy refuses
POST to the npm registry and does not resolve api.osv.dev (docs/security.md#audits)."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# npm's bulk format: package name -> advisories (https://github.com/advisories/GHSA-xvch-5gv4-984h).
NPM_ADVISORIES = {
    "minimist": [{
        "id": 1179, "url": "https://github.com/advisories/GHSA-xvch-5gv4-984h",
        "title": "Prototype Pollution in minimist", "severity": "critical", "vulnerable_versions": "<0.2.1",
        "cwe": ["CWE-1321"], "cvss": {"score": 9.8, "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
    }],
}
# OSV records by PyPI name (https://osv.dev/vulnerability/PYSEC-2021-108), for any version asked about.
OSV_RECORDS = {
    "urllib3": [{
        "id": "PYSEC-2021-108", "aliases": ["CVE-2021-33503", "GHSA-q2q7-5pp4-w6pg"],
        "summary": "Catastrophic backtracking in URL authority parser", "published": "2021-06-29T11:15:00Z",
        "affected": [{"package": {"name": "urllib3", "ecosystem": "PyPI"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.26.5"}]}]}],
    }],
}


class AdvisoryStub:
    """Serves NPM_ADVISORIES / OSV_RECORDS (or the given ones) on a free port until stopped; `url` is its base,
    `asked` the names of the packages OSV was asked about."""

    def __init__(self, npm=None, osv=None):
        npm = NPM_ADVISORIES if npm is None else npm
        osv = OSV_RECORDS if osv is None else osv
        asked_osv = self.asked = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                asked = json.loads(body or b"{}")
                if self.path == "/-/npm/v1/security/advisories/bulk":
                    answer = {name: npm[name] for name in asked if name in npm}
                elif self.path == "/v1/query":
                    asked_osv.append(asked["package"]["name"])
                    vulns = osv.get(asked["package"]["name"], [])
                    answer = {"vulns": vulns} if vulns else {}
                else:
                    return self.send_error(404)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # npm asks for packuments of vulnerable packages: none here
                self.send_error(404)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
