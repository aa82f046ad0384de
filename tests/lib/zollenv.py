"""A local Zoll gateway: test PKI, TLS mock providers and the real nginx.

Used by the demo (config/demo/run.py) and by the tests, so both run exactly
the same setup: Debian's /usr/sbin/nginx loading build/ngx_http_zoll_module.so
with config/demo/nginx.conf.in, in front of two mock providers on loopback
that record every request they receive.
"""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
CONFIG = ROOT / "config"
NGINX = "/usr/sbin/nginx"
PYTHON = "/usr/bin/python3"

# ZOLL_VALGRIND=1: every gateway's nginx (master and the workers it forks)
# runs under valgrind's memcheck, one log per process in its run directory
# (valgrind.<pid>.log); valgrind_findings() reads them.  Everything is
# slower, so the harness waits longer.
VALGRIND = os.environ.get("ZOLL_VALGRIND") == "1"
SLOW = 20 if VALGRIND else 1


_GIVEN = set()     # ports handed out by this process: never twice


def ephemeral_ports():
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text() \
            .split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A free port below the kernel's ephemeral range: a gateway restarted
    on its ports (a reload test, a kill -9 test) must not find one taken
    by some outgoing connection that happened to be given it, which in
    that range can hold it for a keepalive timeout."""
    lo, _ = ephemeral_ports()
    for _ in range(200):
        port = random.randrange(10000, max(lo, 10001))
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def make_certs(certs_dir):
    subprocess.run(["bash", str(ROOT / "tests/lib/mkcerts.sh"),
                    str(certs_dir)], check=True, stdout=subprocess.DEVNULL)


# The loopback ranges the test GeoIP database places in countries
# (tests/lib/mkgeoip.pl); 127.0.0.1 itself is in no country, and 127.5/16
# is in the database without one.
GEOIP_TEST_NETWORKS = {
    "127.1.0.0/16": "DE", "127.2.0.0/16": "US", "127.3.0.0/16": "GB",
    "127.4.0.0/16": "CN", "127.5.0.0/16": "",
}


def make_geoip(path, networks=None):
    """Writes a MaxMind DB mapping networks ({"CIDR": "CC"}) to countries;
    generated, never committed."""
    subprocess.run(["perl", str(ROOT / "tests/lib/mkgeoip.pl"), str(path),
                    *(f"{n}={c}" for n, c in
                      (networks or GEOIP_TEST_NETWORKS).items())],
                   check=True)
    return Path(path)


def render(template, out, values):
    text = Path(template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"{out}: no value for {', '.join(set(left))}")
    Path(out).write_text(text)


def read_jsonl(path, offset=0):
    """Records appended to a JSON-lines file after byte offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def file_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


class Mock:
    """One mock provider (tests/mock/upstream.py) playing an EU or US
    endpoint; its log proves what did and did not reach the provider."""

    def __init__(self, name, port, certs_dir, log, cert="upstream"):
        self.name, self.port, self.log = name, port, Path(log)
        self.proc = subprocess.Popen(
            [PYTHON, str(ROOT / "tests/mock/upstream.py"), "--name", name,
             "--port", str(port), "--cert", str(certs_dir / f"{cert}.pem"),
             "--key", str(certs_dir / f"{cert}.key"), "--log", str(log)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            self.stop()
            raise RuntimeError(f"mock {name} did not start: {line!r}")

    def mark(self):
        return file_size(self.log)

    def since(self, mark):
        return read_jsonl(self.log, mark)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


MOCK_CONTROLS = ("x-mock-delta", "x-mock-chop", "x-mock-delay-ms",
                 "x-mock-escape", "x-mock-gzip")


def forward_headers(headers):
    """proxy_set_header lines passing the client's headers on as they
    came (zoll_proxy.conf forwards an allow-list only)."""
    return "".join(f"    proxy_set_header {h} $http_{h.replace('-', '_')};\n"
                   for h in headers)


def forward_mock_controls(locations, headers=MOCK_CONTROLS):
    """locations.conf with the mocks' control headers forwarded after each
    include of zoll_proxy.conf (only in test gateways and benches)."""
    lines = forward_headers(headers)
    out = []
    for line in locations.splitlines(keepends=True):
        out.append(line)
        if "zoll_proxy.conf;" in line:
            out.append(lines)
    return "".join(out)


class Gateway:
    """nginx with the Zoll module, rendered from the demo template."""

    def __init__(self, run_dir, certs_dir, policy, eu_port, us_port,
                 https_port=None, http_port=None, transfer_log=None,
                 extra="", edit=None, workers=2, edit_conf=None,
                 mock_controls=False):
        self.run = Path(run_dir)
        self.certs = Path(certs_dir)
        self.policy = Path(policy)
        self.https_port = https_port or free_port()
        self.http_port = http_port or free_port()
        self.transfer_log = Path(transfer_log or self.run / "transfer.log")
        self.values = {
            "MODULE": BUILD / "ngx_http_zoll_module.so",
            "RUN": self.run, "CONFIG": CONFIG, "CERTS": self.certs,
            "POLICY": self.policy, "TRANSFER_LOG": self.transfer_log,
            "EU_PORT": eu_port, "US_PORT": us_port,
            "HTTPS_PORT": self.https_port, "HTTP_PORT": self.http_port,
            "EXTRA": extra, "WORKERS": workers,
        }
        self.conf = self.run / "nginx.conf"
        # edit(text) -> text: changes the rendered locations.conf (tests);
        # edit_conf the rendered nginx.conf (benchmarks: no module at all)
        self.edit = edit
        self.edit_conf = edit_conf
        # the tests' mock providers take stream shapes from x-mock-*
        # request headers (tests/mock/upstream.py), which zoll_proxy.conf's
        # allow-list does not forward; test gateways forward them
        self.mock_controls = mock_controls

    def render(self):
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "tmp").mkdir(exist_ok=True)
        loc = self.run / "locations.conf"
        render(CONFIG / "demo/locations.conf", loc, self.values)
        if self.mock_controls:
            loc.write_text(forward_mock_controls(loc.read_text()))
        if self.edit:
            loc.write_text(self.edit(loc.read_text()))
        render(CONFIG / "demo/nginx.conf.in", self.conf, self.values)
        if self.edit_conf:
            self.conf.write_text(self.edit_conf(self.conf.read_text()))

    def nginx(self, *args, check=True):
        # only the server itself runs under valgrind; "nginx -t" and
        # signals do not need to
        vg = valgrind_cmd(self.run) if VALGRIND and not args else []
        return subprocess.run(
            [*vg, NGINX, "-p", str(self.run), "-c", str(self.conf),
             "-e", str(self.run / "error.log"), *args],
            capture_output=True, text=True, check=check)

    def test_config(self):
        """nginx -t: (ok, output)."""
        self.render()
        r = self.nginx("-t", check=False)
        return r.returncode == 0, r.stderr

    def start(self):
        self.render()
        r = self.nginx(check=False)
        if r.returncode != 0:
            raise RuntimeError(f"nginx failed to start:\n{r.stderr}")
        wait_port(self.https_port, 10 * SLOW)
        return self

    def master_pid(self):
        return int((self.run / "nginx.pid").read_text())

    def workers(self):
        out = subprocess.run(["pgrep", "-P", str(self.master_pid())],
                             capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def reload(self, timeout=10.0 * SLOW):
        """nginx -s reload, returning once a new generation of workers
        (with the new policy) is serving."""
        old = self.workers()
        self.render()
        os.kill(self.master_pid(), signal.SIGHUP)
        # done when the new workers run and the old ones, which may still
        # accept on the shared listening sockets until they exit, are gone
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.workers()
            if now and not now & old:
                return
            time.sleep(0.05)
        raise TimeoutError("nginx did not reload:\n"
                           + (self.run / "error.log").read_text()[-2000:])

    def stop(self):
        try:
            pid = self.master_pid()
        except (FileNotFoundError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    # clients

    def ssl_context(self, **kw):
        ctx = ssl.create_default_context(cafile=str(self.certs / "ca.pem"))
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx

    def request(self, method, path, body=None, headers=None, tls=True,
                context=None, source=None):
        """One request on a fresh connection: (status, headers, body);
        source: the client's own loopback address (e.g. "127.1.0.9")."""
        src = (source, 0) if source else None
        if tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, timeout=30,
                context=context or self.ssl_context(), source_address=src)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port,
                                              timeout=30, source_address=src)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        hdrs = {"Content-Type": "application/json"} if body else {}
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in
                                 resp.getheaders()}, data
        finally:
            conn.close()

    def transfer_records(self, offset=0, checkpoints=False):
        """The records of requests (decision, outcome) after offset; the
        log's own checkpoints only if asked for."""
        return [r for r in read_jsonl(self.transfer_log, offset)
                if checkpoints or r.get("event") != "checkpoint"]


def valgrind_cmd(run_dir):
    """memcheck for nginx: forked workers are traced as they are;
    definite leaks count as errors, and every error is logged with its
    stack."""
    return ["valgrind", "--tool=memcheck", "--trace-children=yes",
            "--child-silent-after-fork=no", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--num-callers=30", "--error-limit=no",
            f"--log-file={Path(run_dir) / 'valgrind.%p.log'}"]


# our code, in a stack valgrind printed
OURS = re.compile(r"\b(ngx_http_zoll_\w+|zoll_\w+)\b")

# where an error's own stack ends and the stack of the memory involved
# (where it was allocated, freed, or its value created) begins
ORIGIN = re.compile(r"^ ?(Address 0x|Uninitialised value was created|"
                    r"Block was alloc'd)")


def valgrind_findings(run_dir):
    """Every memcheck error in the valgrind logs under run_dir that Zoll's
    code (the module or the engine) made: an invalid read or write, a use
    of an uninitialised value or a bad free whose own stack passes
    through Zoll, and every definite leak allocated on a path through
    Zoll.  Not counted: errors in code without a Zoll frame, such as
    PCRE2's JIT code reading up to 15 bytes past a subject in one SIMD
    load (a known, harmless behaviour of the JIT; its frames show as
    ???) and nginx's own leaks at exit.  Returns [(log name, text)]."""
    found = []
    for log in sorted(Path(run_dir).rglob("valgrind.*.log")):
        block = []
        for line in log.read_text(errors="replace").splitlines() + [""]:
            text = re.sub(r"^==\d+== ?", "", line)
            if text.strip():
                block.append(text)
                continue
            if block:
                head = block
                if "definitely lost" not in block[0]:
                    cut = [i for i, b in enumerate(block) if ORIGIN.match(b)]
                    head = block[:cut[0]] if cut else block
                if re.match(r"(Invalid|Conditional|Use of|Syscall param|"
                            r"Mismatched|\d[\d,]* .*definitely lost)",
                            block[0]) and OURS.search("\n".join(head)):
                    found.append((log.name, "\n".join(block)))
            block = []
    return found


def keep_trusted_log(log, policy):
    """The demo continues its transfer log across runs; Zoll refuses to
    continue one it cannot verify (a torn or older log). The demo moves
    such a log aside, under a name Zoll does not take for a rotated file
    of this log, and says so; a gateway in production leaves that to its
    operator."""
    if not Path(log).exists():
        return
    v = subprocess.run([str(BUILD / "zollctl"), "verify", "--open",
                        "--policy", str(policy), str(log)],
                       capture_output=True, text=True)
    if v.returncode == 0:
        return
    aside = Path(log).with_name(f"untrusted-{int(time.time())}.transfer")
    Path(log).rename(aside)
    why = (v.stdout + v.stderr).strip().splitlines()
    print(f"demo: {log} does not verify ({why[0] if why else v.returncode});"
          f" kept as {aside}, a new chain starts", flush=True)


def start_demo(run_dir, eu_port=9441, us_port=9442, https_port=8443,
               http_port=8080, policy=None):
    """Everything ./build.sh run starts: (gateway, [mocks])."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    make_certs(run_dir)
    shutil.copy(CONFIG / "demo/keys.env", run_dir / "keys.env")
    mocks = [Mock("eu", eu_port, run_dir, run_dir / "upstream-eu.log"),
             Mock("us", us_port, run_dir, run_dir / "upstream-us.log")]
    # a generated GeoIP database; 127.0.0.1 is the trusted proxy whose
    # X-Forwarded-For places the subject (try 127.1.0.5, DE, or 127.2.0.5,
    # US, as hooli_geo)
    make_geoip(run_dir / "geoip.mmdb")
    keep_trusted_log(run_dir / "transfer.log",
                     policy or CONFIG / "demo/policy.json")
    geo = (f"zoll_geoip {run_dir / 'geoip.mmdb'};\n"
           "set_real_ip_from 127.0.0.1;\n"
           "real_ip_header X-Forwarded-For;\n")
    try:
        gw = Gateway(run_dir, run_dir, policy or CONFIG / "demo/policy.json",
                     eu_port, us_port, https_port, http_port,
                     transfer_log=run_dir / "transfer.log",
                     extra=geo).start()
    except Exception:
        for m in mocks:
            m.stop()
        raise
    return gw, mocks


def demo_policy():
    """The demo policy with absolute paths (credentials, keys, rules), so
    that copies of it can live anywhere."""
    p = json.loads((CONFIG / "demo/policy.json").read_text())
    base = CONFIG / "demo"
    for t in p["tenants"]:
        for g in t.get("subprocessors", []):
            g["credential_file"] = str(base / g["credential_file"])
        if "pseudonym_key_file" in t:
            t["pseudonym_key_file"] = str(base / t["pseudonym_key_file"])
    p["logging"]["signing_key_file"] = str(
        base / p["logging"]["signing_key_file"])
    if "redaction" in p:
        p["redaction"]["rules"] = str(
            (base / p["redaction"]["rules"]).resolve())
    return p


def demo_keys():
    keys = {}
    for line in (CONFIG / "demo/keys.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys[k.strip()] = v.strip()
    return keys
