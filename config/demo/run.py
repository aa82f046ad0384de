#!/usr/bin/python3
"""./build.sh run: the Zoll demo gateway in the foreground.

Starts the test PKI, two TLS mock providers (EU and US) and nginx with the
Zoll module, all on loopback, prints how to use them and stops everything on
Ctrl-C.  Everything it writes is under build/demo/.
"""

import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/lib"))

import zollenv  # noqa: E402

RUN = ROOT / "build/demo"


def main():
    gw, mocks = zollenv.start_demo(RUN)
    keys = zollenv.demo_keys()
    rel = lambda p: Path(p).relative_to(ROOT)
    print(f"""
Zoll demo gateway is running.

  gateway        https://127.0.0.1:{gw.https_port}  (CA: {rel(RUN / 'ca.pem')})
  plain HTTP     http://127.0.0.1:{gw.http_port}    (answers 426: TLS required)
  EU provider    mock on 127.0.0.1:{mocks[0].port}, log {rel(mocks[0].log)}
  US provider    mock on 127.0.0.1:{mocks[1].port}, log {rel(mocks[1].log)}
  transfer log   {rel(gw.transfer_log)}
  tenant keys    {rel(RUN / 'keys.env')}""")
    for tenant, key in keys.items():
        print(f"    {tenant:18} {key}")
    print(f"""
Try (acme_eu may only use EEA endpoints, globex_any may go to the US):

  curl --cacert {rel(RUN / 'ca.pem')} https://127.0.0.1:{gw.https_port}/openai/v1/chat/completions \\
    -H "Authorization: Bearer {keys['acme_eu']}" -H "Content-Type: application/json" \\
    -d '{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"Hallo Zoll"}}]}}'

  tail -n1 {rel(gw.transfer_log)}

Where the data subject is (hooli_geo; 127.0.0.1 is a trusted proxy, the
generated GeoIP database places 127.1.0.0/16 in DE, 127.2.0.0/16 in US):
add -H "X-Forwarded-For: 127.1.0.5" (EU endpoint only) or 127.2.0.5 (US,
under the DPF), and -H "X-Zoll-Subject-Country: DE" to narrow further.

Official SDKs: base URL https://127.0.0.1:{gw.https_port}/openai/v1 (OpenAI) or
https://127.0.0.1:{gw.https_port}/anthropic (Anthropic), NODE_EXTRA_CA_CERTS={rel(RUN / 'ca.pem')}.

Ctrl-C stops the gateway and the mocks.
""", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            for m in mocks:
                if m.proc.poll() is not None:
                    raise RuntimeError(f"mock {m.name} exited")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        gw.stop()
        for m in mocks:
            m.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
