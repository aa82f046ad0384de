"""The transfer log as evidence: one hash chain across workers, reloads,
rotations and restarts, signed checkpoints a third party can check with
the public key alone, tampering detected by zollctl verify, retention by
whole files, disk full failing closed, client addresses keyed per day."""

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import time

import pytest

import zollenv
from conftest import chat, request_as

ZOLLCTL = str(zollenv.BUILD / "zollctl")
SIGNING_KEY = zollenv.CONFIG / "demo/credentials/log-signing.key"


@pytest.fixture(scope="module")
def pubkey(tmp_path_factory):
    """Only the public half: what a third party would hold."""
    out = tmp_path_factory.mktemp("pub") / "log-signing.pub"
    subprocess.run(["openssl", "pkey", "-in", str(SIGNING_KEY), "-pubout",
                    "-out", str(out)], check=True)
    return out


def verify(pubkey, *files, live=False):
    args = [ZOLLCTL, "verify", "--key", str(pubkey)]
    args += ["--open"] if live else []
    r = subprocess.run(args + [str(f) for f in files], capture_output=True,
                       text=True)
    return r.returncode, r.stdout + r.stderr


def lines(path):
    return path.read_bytes().splitlines(keepends=True)


def records(path):
    return [json.loads(x) for x in lines(path)]


def traffic(env, gw, n):
    for _ in range(n):
        status, _, body = request_as(gw, env.keys["acme_eu"])
        assert status == 200, body


@pytest.fixture(scope="module")
def closed_log(env, tmp_path_factory):
    """A log of a gateway that ran and stopped: start checkpoint, records,
    shutdown checkpoint."""
    run = tmp_path_factory.mktemp("closed")
    gw = zollenv.Gateway(run, env.run, env.policy_path, env.eu.port,
                         env.us.port).start()
    try:
        traffic(env, gw, 4)
    finally:
        gw.stop()
    return gw.transfer_log.read_bytes()


def test_the_chain_verifies_with_the_public_key_alone(closed_log, pubkey,
                                                      tmp_path):
    log = tmp_path / "transfer.log"
    log.write_bytes(closed_log)
    rc, out = verify(pubkey, log)
    assert rc == 0, out
    recs = records(log)
    assert f"OK: {len(recs)} records, seq 1 to {len(recs)}" in out
    assert "the log ends with a shutdown checkpoint" in out
    assert recs[0]["event"] == "checkpoint" and recs[0]["reason"] == "start"
    assert recs[-1]["event"] == "checkpoint"
    assert recs[-1]["reason"] == "shutdown"
    # 4 requests: a decision and an outcome each
    assert [r["event"] for r in recs].count("decision") == 4
    assert [r["event"] for r in recs].count("outcome") == 4


def test_hashes_and_signatures_check_out_without_zollctl(closed_log, pubkey,
                                                         tmp_path):
    """The documented rule, recomputed with hashlib and the openssl CLI."""
    prev = "0" * 64
    for i, raw in enumerate(closed_log.splitlines()):
        rec = json.loads(raw)
        at = raw.rindex(b',"hash":"')
        assert raw[at:] == b',"hash":"' + rec["hash"].encode() + b'"}'
        assert hashlib.sha256(raw[:at] + b"}").hexdigest() == rec["hash"]
        assert rec["prev"] == prev and rec["seq"] == i + 1
        prev = rec["hash"]

        if rec["event"] != "checkpoint":
            continue
        sig_at = raw.rindex(b',"sig":"')
        msg, sig = tmp_path / "msg", tmp_path / "sig"
        msg.write_bytes(raw[:sig_at] + b"}")
        sig.write_bytes(bytes.fromhex(rec["sig"]))
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin",
                            "-inkey", str(pubkey), "-rawin", "-in", str(msg),
                            "-sigfile", str(sig)], capture_output=True,
                           text=True)
        assert "Signature Verified Successfully" in r.stdout, r.stdout
        # and a changed byte does not verify
        msg.write_bytes(raw[:sig_at].replace(b'"v":1', b'"v":2') + b"}")
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin",
                            "-inkey", str(pubkey), "-rawin", "-in", str(msg),
                            "-sigfile", str(sig)], capture_output=True,
                           text=True)
        assert r.returncode != 0


def rechain(ls, start):
    """A forger's best effort: recompute every hash from start on (without
    the signing key, checkpoints keep their old signatures)."""
    prev = json.loads(ls[start - 1])["hash"] if start else "0" * 64
    out = ls[:start]
    for raw in ls[start:]:
        at = raw.index(b',"seq":')
        tail = raw[raw.index(b',"prev":"') + 74:raw.rindex(b',"hash":"')]
        seq = len(out) + 1
        body = raw[:at] + b',"seq":%d,"prev":"%s"' % (seq, prev.encode())
        body += tail
        h = hashlib.sha256(body + b"}").hexdigest()
        out.append(body + b',"hash":"' + h.encode() + b'"}\n')
        prev = h
    return out


def tamper(ls, kind):
    ls = list(ls)
    if kind == "modified":
        ls[2] = ls[2].replace(b'"tenant":"acme_eu"', b'"tenant":"acme_xx"')
    elif kind == "deleted":
        del ls[2]
    elif kind == "inserted":
        ls.insert(3, ls[1])
    elif kind == "reordered":
        ls[2], ls[3] = ls[3], ls[2]
    elif kind == "truncated":
        ls = ls[:-2]
    elif kind == "cut mid-line":
        ls[-1] = ls[-1][:40]
    elif kind == "modified and rechained":
        ls[2] = ls[2].replace(b'"tenant":"acme_eu"', b'"tenant":"acme_xx"')
        ls = rechain(ls, 2)
    return ls


@pytest.mark.parametrize("kind, where, why", [
    ("modified", ":3: seq 3: ", "does not match its hash"),
    ("deleted", ":3: seq 4: ", "1 record(s) before it are missing"),
    ("inserted", ":4: seq 2: ", "inserted, repeated or moved"),
    ("reordered", ":3: seq 4: ", "missing"),
    ("truncated", "", "without a shutdown checkpoint"),
    ("cut mid-line", ":", "the last line has no newline"),
    ("modified and rechained", ":", "signature does not verify"),
])
def test_every_kind_of_tampering_is_detected(closed_log, pubkey, tmp_path,
                                             kind, where, why):
    log = tmp_path / "transfer.log"
    log.write_bytes(b"".join(tamper(closed_log.splitlines(True), kind)))
    rc, out = verify(pubkey, log)
    assert rc == 1, out
    assert out.startswith(f"FAILED: {log}{where}"), out
    assert why in out


def test_a_rechained_log_without_the_change_still_verifies(closed_log,
                                                           pubkey, tmp_path):
    """The forger above is faithful to the format: only the change (and
    the signatures) give it away, not a mistake of the test."""
    log = tmp_path / "transfer.log"
    log.write_bytes(b"".join(rechain(closed_log.splitlines(True), 2)))
    rc, out = verify(pubkey, log)
    assert rc == 0, out


def test_restart_continues_the_chain_and_reports_a_torn_line(
        env, make_gateway, pubkey):
    gw = make_gateway()
    traffic(env, gw, 2)
    gw.stop()
    # a write cut off by a crash
    with open(gw.transfer_log, "ab") as f:
        f.write(b'{"v":1,"event":"deci')
    gw.start()
    traffic(env, gw, 1)
    gw.stop()

    rc, out = verify(pubkey, gw.transfer_log)
    assert rc == 0, out
    assert "1 torn write(s) reported by the gateway" in out
    starts = [r for r in records_skipping_torn(gw.transfer_log)
              if r.get("reason") == "start"]
    assert len(starts) == 2
    # the last whole record was the shutdown; the torn bytes came after
    assert starts[1]["previous"]["torn"]["bytes"] == 20
    assert "ended with a torn line of 20 bytes" in (
        gw.run / "error.log").read_text()


def records_skipping_torn(path):
    out = []
    for raw in lines(path):
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            pass
    return out


def test_a_crash_is_visible_in_the_next_start_checkpoint(env, make_gateway,
                                                         pubkey):
    gw = make_gateway()
    traffic(env, gw, 2)
    acknowledged = [r["request_id"] for r in gw.transfer_records()
                    if r["event"] == "decision"]
    assert len(acknowledged) == 2
    master = gw.master_pid()
    workers = gw.workers()
    # the master first: a master still alive respawns a worker killed
    # before it, and that worker (not in this list) keeps the listening
    # sockets, so the restart below cannot bind; a master with SIGKILL
    # pending runs no more code
    for pid in [master] + sorted(workers):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{p}") for p in workers | {master}):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    gw.start()
    traffic(env, gw, 1)
    gw.stop()

    rc, out = verify(pubkey, gw.transfer_log)
    assert rc == 0, out
    assert "1 restart(s) after an unclean end" in out
    start = [r for r in records(gw.transfer_log)
             if r.get("reason") == "start"][1]
    assert start["previous"] == {"seq": start["seq"] - 1, "clean": False,
                                 "torn": None}
    # the default durability ("write") lost no acknowledged record
    after = [r["request_id"] for r in records(gw.transfer_log)
             if r["event"] == "decision"]
    assert after[:2] == acknowledged


def test_a_changed_last_record_stops_nginx_from_starting(env, make_gateway):
    gw = make_gateway()
    traffic(env, gw, 1)
    gw.stop()
    ls = lines(gw.transfer_log)
    ls[-1] = ls[-1].replace(b'"shutdown"', b'"shutdowN"')
    gw.transfer_log.write_bytes(b"".join(ls))

    ok, out = gw.test_config()
    assert not ok
    assert "does not match its hash" in out
    assert "move it aside to start a new chain" in out
    with pytest.raises(RuntimeError, match="does not match its hash"):
        gw.start()


@pytest.fixture
def log_dir(env, request):
    """A directory nginx's workers (user nobody) can reach, unlike pytest's
    private tmp_path: after a rotation they open the log's path again."""
    d = env.run / "logs" / request.node.name.replace("/", "_")[:60]
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for p in (d, d.parent):
        p.chmod(0o755)
    return d


def test_rotation_new_files_begin_with_a_checkpoint_and_prune_keeps_them(
        env, make_gateway, pubkey, log_dir):
    gw = make_gateway(transfer_log=log_dir / "transfer.log")
    log = gw.transfer_log
    rotated = []
    for n in range(2):
        traffic(env, gw, 2)
        rotated.append(log.with_name(f"transfer.log.{n}"))
        log.rename(rotated[-1])
        gw.nginx("-s", "reopen")
        time.sleep(0.3)
    traffic(env, gw, 1)
    gw.stop()

    files = [rotated[1], log, rotated[0]]          # any order will do
    rc, out = verify(pubkey, *files)
    assert rc == 0, out
    assert "in 3 file(s)" in out
    for f in (rotated[1], log):
        first = records(f)[0]
        assert first["event"] == "checkpoint" and first["reason"] == "reopen"

    # a file missing from the middle is a gap
    rc, out = verify(pubkey, rotated[0], log)
    assert rc == 1 and "missing (deleted)" in out, out

    r = subprocess.run([ZOLLCTL, "prune", "--older-than", "0d"]
                       + [str(f) for f in files], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert not rotated[0].exists() and not rotated[1].exists()
    assert log.exists()
    rc, out = verify(pubkey, log)
    assert rc == 0, out
    assert "starting at a signed checkpoint: older files were pruned" in out


def test_rotation_without_a_reopen_signal_is_found_within_a_second(
        env, make_gateway, pubkey, log_dir):
    """logrotate's "create" without postrotate: the file is moved away and
    a new one put at the path, and nginx is not told.  A worker looks at
    the path at most once a second, so the records of the next second may
    still go to the moved file; after that they go to the new one, which
    begins with a reopen checkpoint, and the chain across both verifies."""
    gw = make_gateway(transfer_log=log_dir / "transfer.log")
    log = gw.transfer_log
    traffic(env, gw, 2)
    moved = log.with_name("transfer.log.1")
    log.rename(moved)
    log.touch(mode=0o644)
    nobody = pwd.getpwnam("nobody")     # the workers' user
    os.chown(log, nobody.pw_uid, nobody.pw_gid)
    traffic(env, gw, 1)                 # may still land in the moved file
    time.sleep(1.1)
    traffic(env, gw, 2)
    gw.stop()

    new = records(log)
    assert new[0]["event"] == "checkpoint" and new[0]["reason"] == "reopen"
    # the two requests after the second: both records in the new file (the
    # request before it may have its decision in the old file and its
    # outcome in the new one)
    events = [r["event"] for r in new]
    assert events.count("decision") >= 2 and events.count("outcome") >= 2
    old = records(moved)
    assert all(r["seq"] < new[0]["seq"] for r in old)
    rc, out = verify(pubkey, moved, log)
    assert rc == 0, out
    assert "in 2 file(s)" in out


def test_prune_by_policy_keeps_what_is_younger(env, make_gateway, tmp_path):
    gw = make_gateway()
    traffic(env, gw, 1)
    gw.stop()
    p = env.policy()
    p["logging"]["retention_days"] = 180
    env.write_policy(p, tmp_path / "p.json")
    r = subprocess.run([ZOLLCTL, "prune", "--policy", str(tmp_path / "p.json"),
                        str(gw.transfer_log)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "nothing older than 180 days" in r.stdout
    assert gw.transfer_log.exists()


def wrk_script(tmp_path, key):
    body = json.dumps(chat("Lasttest"))
    script = tmp_path / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n')
    return script


def test_four_workers_under_load_with_rotation_reload_and_restart(
        env, make_gateway, pubkey, tmp_path, log_dir):
    """Every request that was forwarded has its records, in one chain
    across four workers, a rotation, a reload and a restart mid-load."""
    gw = make_gateway(workers=4, transfer_log=log_dir / "transfer.log")
    marks = env.eu.mark(), env.us.mark()
    script = wrk_script(tmp_path, env.keys["acme_eu"])
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c8", "-d8s", "-s", str(script),
         f"https://127.0.0.1:{gw.https_port}/openai/v1/chat/completions"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = gw.transfer_log
    time.sleep(1.5)
    log.rename(log.with_name("transfer.log.1"))
    gw.nginx("-s", "reopen")
    time.sleep(1.5)
    gw.reload()
    time.sleep(1.5)
    gw.stop()                 # graceful: requests in flight finish
    gw.start()
    out, _ = wrk.communicate(timeout=30)
    gw.stop()

    files = [log.with_name("transfer.log.1"), log]
    rc, vout = verify(pubkey, *files)
    assert rc == 0, vout
    assert "restart(s) after an unclean end" not in vout

    recs = [r for f in files for r in records(f)]
    decisions = [r for r in recs if r["event"] == "decision"]
    outcomes = [r for r in recs if r["event"] == "outcome"]
    upstream = env.eu.since(marks[0]) + env.us.since(marks[1])
    assert all(d["decision"] == "forwarded" for d in decisions)
    m = re.search(r"(\d+) requests in", out)
    assert m and int(m.group(1)) > 100, out
    # every request has its decision and its outcome
    assert len(decisions) == len(outcomes) > 100
    assert ({d["request_id"] for d in decisions}
            == {o["request_id"] for o in outcomes})
    # nothing left without its records, and every answered request left.
    # The decision is written before the request goes on, so a client that
    # gives up in between (wrk stopping with -c8 requests in flight, or a
    # wrk timeout) leaves a decision whose outcome is 499 without an
    # upstream status, and the upstream may or may not have the request
    answered = [o for o in outcomes if o["upstream_status"] is not None]
    assert len(answered) <= len(upstream) <= len(decisions)
    gave_up = [o for o in outcomes if o["upstream_status"] is None]
    assert all(o["status"] == 499 for o in gave_up), gave_up
    t = re.search(r"timeout (\d+)", out)
    assert len(gave_up) <= 8 + (int(t.group(1)) if t else 0), (gave_up, out)
    reasons = [r["reason"] for r in recs if r["event"] == "checkpoint"]
    for reason in ("start", "reopen", "reload", "shutdown"):
        assert reason in reasons, reasons


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 512) == 512:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_disk_full_gives_503_and_no_transfer_without_a_record(
        env, make_gateway, small_fs, pubkey):
    gw = make_gateway(transfer_log=small_fs / "transfer.log")
    traffic(env, gw, 1)
    fill(small_fs / "filler")

    # the log's last page may still have room for a record or two
    refused = 0
    for _ in range(12):
        marks = env.eu.mark(), env.us.mark()
        status, _, body = request_as(gw, env.keys["acme_eu"])
        if status == 200:
            assert refused == 0, "a transfer after a refusal"
            continue
        assert status == 503, body
        assert json.loads(body)["error"]["code"] == "transfer_log_unwritable"
        assert env.eu.since(marks[0]) == [] and env.us.since(marks[1]) == []
        refused += 1
        if refused == 3:
            break
    assert refused == 3
    assert "transfer log" in (gw.run / "error.log").read_text()

    # space again: transfers resume and the chain has no hole or torn line
    (small_fs / "filler").unlink()
    traffic(env, gw, 1)
    gw.stop()
    rc, out = verify(pubkey, gw.transfer_log)
    assert rc == 0, out
    decisions = [r for r in records(gw.transfer_log)
                 if r["event"] == "decision"]
    # every decision in the log is one that was forwarded
    assert all(d["decision"] == "forwarded" for d in decisions)


def test_a_log_that_is_not_a_regular_file_is_refused_at_start(make_gateway):
    # /dev/full would take the open and fail every write: no chain could
    # be kept there, so nginx -t says so
    gw = make_gateway(transfer_log="/dev/full", start=False)
    ok, out = gw.test_config()
    assert not ok
    assert "is not a regular file" in out


def test_client_addresses_are_keyed_per_day(env, make_gateway, tmp_path):
    p = env.policy()
    p["logging"]["client_address"] = "hmac"
    env.write_policy(p, tmp_path / "p.json")
    gw = make_gateway(policy=tmp_path / "p.json")
    traffic(env, gw, 2)
    gw.stop()
    clients = {r["client"] for r in records(gw.transfer_log)
               if r["event"] == "decision"}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(clients) == 1
    assert re.fullmatch(rf"hmac:{today}:[0-9a-f]{{16}}", clients.pop())
    assert b"127.0.0" not in gw.transfer_log.read_bytes()


def test_a_policy_without_a_signing_key_fails_nginx_t(env, make_gateway,
                                                      tmp_path):
    p = env.policy()
    del p["logging"]["signing_key_file"]
    env.write_policy(p, tmp_path / "p.json")
    ok, out = make_gateway(policy=tmp_path / "p.json",
                           start=False).test_config()
    assert not ok
    assert "no \"logging.signing_key_file\"" in out


def test_idle_tail_is_signed_by_the_timer(env, make_gateway, pubkey,
                                          tmp_path):
    p = env.policy()
    p["logging"]["checkpoint_seconds"] = 1
    env.write_policy(p, tmp_path / "p.json")
    gw = make_gateway(policy=tmp_path / "p.json")
    traffic(env, gw, 1)
    deadline = time.monotonic() + 5
    while True:
        recs = records(gw.transfer_log)
        if (recs[-1]["event"] == "checkpoint"
                and "outcome" in [r["event"] for r in recs]):
            break
        assert time.monotonic() < deadline, "no checkpoint after 5 s"
        time.sleep(0.1)
    rc, out = verify(pubkey, gw.transfer_log, live=True)
    assert rc == 0, out
    assert "open: 0 record(s) after the last checkpoint" in out
    gw.stop()
