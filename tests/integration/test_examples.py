"""The shipped example configuration is coherent: config/nginx.conf with
config/policy.json passes nginx -t with the module (upstream blocks for
every region its locations can route to, valid directives)."""

import subprocess

import zollenv


def test_example_nginx_conf_passes_nginx_t(env, tmp_path):
    conf = (zollenv.CONFIG / "nginx.conf").read_text()
    ports = iter(zollenv.free_port() for _ in range(2))
    for old, new in {
        "modules/ngx_http_zoll_module.so":
            str(zollenv.BUILD / "ngx_http_zoll_module.so"),
        "/etc/zoll/policy.json": str(zollenv.CONFIG / "policy.json"),
        "/etc/zoll/zoll_proxy.conf": str(zollenv.CONFIG / "zoll_proxy.conf"),
        "/etc/zoll/tls/fullchain.pem": str(env.run / "gateway.pem"),
        "/etc/zoll/tls/privkey.pem": str(env.run / "gateway.key"),
        "/var/log/zoll/": f"{tmp_path}/",
        "/var/log/nginx/": f"{tmp_path}/",
        "listen 443 ssl": f"listen 127.0.0.1:{next(ports)} ssl",
        "listen 80;": f"listen 127.0.0.1:{next(ports)};",
    }.items():
        assert old in conf, old
        conf = conf.replace(old, new)
    # no DNS here: the provider host names stand for themselves
    for host in ("eu.api.openai.com", "api.openai.com", "api.anthropic.com",
                 "api.mistral.ai"):
        conf = conf.replace(f"server {host}:443;", "server 127.0.0.1:9;")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n" + conf)

    r = subprocess.run([zollenv.NGINX, "-t", "-p", str(tmp_path), "-c",
                        str(tmp_path / "nginx.conf"), "-e",
                        str(tmp_path / "error.log")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr
