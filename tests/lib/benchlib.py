"""What the gateway benchmarks (tests/bench/log, tests/bench/gateway)
share: the demo policy and configuration as a baseline without Zoll, a
plain nginx upstream, CPU pinning and accounting, and wrk.
"""

import json
import os
import re
import resource
import subprocess
import time
from pathlib import Path

import zollenv

CLK_TCK = os.sysconf("SC_CLK_TCK")
EU_HOST = "eu.mock.zoll.test"


def demo_policy(durability="write"):
    """zollenv.demo_policy() with the given durability; checkpoints stay
    at their defaults."""
    p = zollenv.demo_policy()
    p["logging"]["durability"] = durability
    return p


def plain_proxy(upstream, host, token):
    """zoll_proxy.conf's settings for a plain proxy_pass: Zoll's variables
    replaced by the upstream, its host name and the credential, Zoll's own
    directives left out (a location's body)."""
    proxy = (zollenv.CONFIG / "zoll_proxy.conf").read_text()
    proxy = proxy.replace("proxy_pass $zoll_upstream;",
                          f"proxy_pass https://{upstream};")
    proxy = proxy.replace("$zoll_upstream_host", host)
    proxy = "\n".join("    " + l.strip() for l in proxy.splitlines()
                      if l.strip() and not l.lstrip().startswith(
                          ("zoll_", "#")))
    if "$zoll" in proxy or "\n    zoll" in "\n" + proxy:
        raise ValueError(f"zoll_proxy.conf: Zoll is left in:\n{proxy}")
    return f'{proxy}\n    proxy_set_header Authorization "Bearer {token}";\n'


def plain_location(tenant, only=False):
    """An edit of locations.conf (zollenv.Gateway's edit=): /openai/ as
    plain proxy_pass to the EU upstream with the tenant's credential; with
    only, that location and nothing else (the others need the module)."""
    t = next(t for t in demo_policy()["tenants"] if t["id"] == tenant)
    token = Path(next(g["credential_file"] for g in t["subprocessors"]
                      if g["id"] == "openai")).read_text().strip()
    block = ("location /openai/ {\n"
             "    rewrite ^/openai(/.*)$ $1 break;\n"
             f"{plain_proxy('zoll_eu', EU_HOST, token)}"
             "}\n")

    def edit(locations):
        if only:
            return block
        start = locations.index("location /openai/ {")
        end = locations.index("\n}\n", start) + 3
        return locations[:start] + block + locations[end:]

    return edit


def without_module(conf):
    """An edit of nginx.conf (zollenv.Gateway's edit_conf=): stock nginx,
    the module not even loaded; Zoll's variables in the log format and
    headers become "-"."""
    out = []
    for l in conf.splitlines():
        s = l.strip()
        if s.startswith(("load_module", "zoll_", "add_header X-Zoll")):
            continue
        out.append(re.sub(r"\$zoll_\w+", "-", l))
    conf = "\n".join(out) + "\n"
    if "zoll_" in re.sub(r"\bzoll_(eu|us)\b", "", conf).replace(
            "log_format zoll", "").replace("access.log zoll", ""):
        raise ValueError("nginx.conf: Zoll is left in")
    return conf


class NginxUpstream:
    """A plain nginx answering every request with a fixed body over TLS,
    with the mocks' certificate (eu/us.mock.zoll.test): one server per
    (port, content type, body)."""

    def __init__(self, run_dir, certs, servers):
        self.run = Path(run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        self.conf = self.run / "nginx.conf"
        temp = "\n".join(f"    {k}_temp_path {self.run}/{k};" for k in
                         ("client_body", "proxy", "fastcgi", "uwsgi",
                          "scgi"))
        blocks = []
        for port, ctype, body in servers:
            body = body.replace("\\", "\\\\").replace("'", "\\'")
            blocks.append(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certs}/upstream.pem;
        ssl_certificate_key {certs}/upstream.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            default_type {ctype};
            return 200 '{body}';
        }}
    }}""")
        self.conf.write_text(f"""
worker_processes 1;
pid {self.run}/nginx.pid;
error_log {self.run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    keepalive_requests 1000000;
    client_max_body_size 64m;
{"".join(blocks)}
}}
""")
        self.nginx()
        for port, _, _ in servers:
            zollenv.wait_port(port)

    def nginx(self, *args):
        subprocess.run([zollenv.NGINX, "-p", str(self.run), "-c",
                        str(self.conf), "-e", str(self.run / "error.log"),
                        *args], check=True, capture_output=True)

    def pids(self):
        master = int((self.run / "nginx.pid").read_text())
        return [master] + children(master)

    def stop(self):
        try:
            self.nginx("-s", "quit")
        except subprocess.CalledProcessError:
            pass


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def pin(pids, cpus):
    for pid in pids:
        try:
            os.sched_setaffinity(pid, cpus)
        except ProcessLookupError:
            pass


def pins(workers, no_pin=False):
    """{"gateway": cpus, "client": cpus}: the gateway alone on the last
    CPU(s), wrk and the upstream on the others, so the gateway never
    competes with its own load; None if there are too few CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) <= workers:
        return None
    return {"gateway": set(cpus[-workers:]), "client": set(cpus[:-workers])}


def cpu_model():
    return next((l.split(":", 1)[1].strip() for l in
                 Path("/proc/cpuinfo").read_text().splitlines()
                 if l.startswith("model name")), "?")


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        f = stat.rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])        # utime, stime
    return total


def cpu_busy():
    """Jiffies all CPUs were busy (/proc/stat: user, nice, system, irq,
    softirq; with tick-based accounting a task's own times include the
    softirqs that ran in its context, loopback TCP for one)."""
    f = [int(x) for x in Path("/proc/stat").read_text()
         .split("\n", 1)[0].split()[1:8]]
    return f[0] + f[1] + f[2] + f[5] + f[6]


def kthread_ticks():
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[6]) & 0x200000:                    # PF_KTHREAD
            total += int(f[11]) + int(f[12])
    return total


def lines(path, offset=0):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def settle(paths, timeout=5.0):
    """Waits until the files stop growing: the requests wrk left in flight
    get their outcome records and access log lines."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        now = [zollenv.file_size(p) for p in paths]
        if now == last:
            return
        last = now
        time.sleep(0.15)


def wrk(script, url, threads, connections, seconds, cpus, env):
    """One wrk run with a script that prints its figures as a JSON line
    (log/chat.lua, gateway/bodies.lua); the figures, plus wrk's own CPU
    seconds (cpu_s)."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
           "--timeout", "10s", "-s", str(script), url]
    if cpus:
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] + cmd
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True,
                       env=dict(os.environ, **env))
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not out:
        raise RuntimeError(f"wrk failed ({r.returncode}):\n{r.stdout}"
                           f"{r.stderr}")
    w = json.loads(out[-1])
    w["cpu_s"] = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    return w
