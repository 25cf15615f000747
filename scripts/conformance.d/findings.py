"""The Python side of scripts/conformance (run with the pkilint virtualenv's python).

  findings.py record LEDGER CHECK FILE     pkilint's JSON output on stdin -> the findings of
                                           WARNING and above printed, every finding appended
                                           to LEDGER (tab-separated: check, file, severity, code)
  findings.py summary LEDGER DOCS          totals; exit 1 on FATAL/ERROR or a WARNING whose code
                                           DOCS (docs/certificates.md) does not explain
  findings.py reachable                    exit 0 if pip's package index answers, 1 if not
  findings.py versions                     "pkilint 0.13.3 (pyasn1 0.6.5, ...)"
"""

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

SHOWN = ("FATAL", "ERROR", "WARNING")
FAILING = ("FATAL", "ERROR")


def record(ledger, check, path):
    text = sys.stdin.read()
    try:
        results = json.loads(text)["results"]
    except (ValueError, KeyError, TypeError):
        # The linter crashed or printed something else: that is a failure of the check.
        tail = " ".join(text.strip().splitlines()[-3:])[:300]
        results = [{"validator": "linter", "node_path": path,
                    "finding_descriptions": [{"severity": "FATAL", "code": "conformance.linter_failed",
                                              "message": tail or "no output"}]}]
    rows = []
    for result in results:
        for finding in result.get("finding_descriptions", []):
            severity, code = finding.get("severity", "?"), finding.get("code", "?")
            rows.append((check, path, severity, code))
            if severity in SHOWN:
                message = finding.get("message")
                print(f"    {severity:7} {code}" + (f": {message}" if message else "")
                      + f"  [{result.get('validator')} @ {result.get('node_path')}]")
    with open(ledger, "a", encoding="utf-8") as out:
        for row in rows:
            out.write("\t".join(row) + "\n")
        if not rows:
            out.write("\t".join((check, path, "NONE", "-")) + "\n")
    worst = [r for r in rows if r[2] in FAILING]
    return 1 if worst else 0


def summary(ledger, docs):
    with open(ledger, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    with open(docs, encoding="utf-8") as f:
        explained = f.read()
    files = {r[1] for r in rows}
    runs = {(r[0], r[1]) for r in rows}
    count = {s: sum(1 for r in rows if r[2] == s) for s in ("FATAL", "ERROR", "WARNING", "NOTICE", "INFO")}
    unexplained = sorted({r[3] for r in rows if r[2] == "WARNING" and r[3] not in explained})
    for code in unexplained:
        print(f"conformance: WARNING {code} is not explained in {docs}: fix it in the issuer or explain it there")
    warned = sorted({r[3] for r in rows if r[2] == "WARNING"})
    if warned:
        print("conformance: warnings by code: " + ", ".join(
            f"{code} x{sum(1 for r in rows if r[2] == 'WARNING' and r[3] == code)}" for code in warned))
    print(f"conformance: {len(files)} files, {len(runs)} lint runs: {count['FATAL']} fatal, {count['ERROR']} errors, "
          f"{count['WARNING']} warnings ({len(unexplained)} unexplained), {count['NOTICE']} notices, {count['INFO']} info")
    return 1 if count["FATAL"] or count["ERROR"] or unexplained else 0


def index_url():
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        got = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                             capture_output=True, text=True)
        url = got.stdout.strip() if got.returncode == 0 else ""
    if not url:
        from pip._internal.models.index import PyPI  # pip's own default index
        url = PyPI.simple_url
    return url.rstrip("/") + "/pkilint/"


def reachable():
    url = index_url()
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        urllib.request.urlopen(url, timeout=20, context=context).close()
    except urllib.error.HTTPError:
        return 0  # it answered
    except (urllib.error.URLError, OSError) as error:
        print(f"the package index {url} is unreachable: {error}")
        return 1
    return 0


def versions():
    from importlib.metadata import version
    deps = ", ".join(f"{name} {version(name)}" for name in ("pyasn1", "pyasn1-alt-modules", "cryptography",
                                                            "publicsuffixlist", "validators"))
    print(f"pkilint {version('pkilint')} ({deps}) on Python {sys.version.split()[0]}")
    return 0


def main(argv):
    if len(argv) == 4 and argv[0] == "record":
        return record(*argv[1:])
    if len(argv) == 3 and argv[0] == "summary":
        return summary(*argv[1:])
    if argv == ["reachable"]:
        return reachable()
    if argv == ["versions"]:
        return versions()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
