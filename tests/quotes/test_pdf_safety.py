"""customer360.pdf's promises, attacked: whatever HTML reaches WeasyPrint, nothing is fetched but the
project's static files, reseller logos and data: URLs (zero requests reach a local HTTP server, no local
file is read), attachments are never embedded, and every render ends within its time limit."""

import http.server
import io
import threading
import time

import pytest
from pypdf import PdfReader

from customer360.pdf import (
    PDF_BASE_URL,
    AllowedRoots,
    PdfTimeout,
    allowed_roots,
    render_pdf,
    render_pdf_result,
    resolve_local,
)
from customer360.tenancy import tenant_scope
from quotes.pdf import STYLESHEETS, render_snapshot_html
from quotes.services_send import build_snapshot

from .documents_helpers import make_quote, sender

PNG_1PX = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


class CountingServer:
    """A local HTTP server that counts every request (and would redirect /redirect to file:///etc/passwd)."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "file:///etc/passwd")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.end_headers()
                self.wfile.write(b"body { color: red }")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    with CountingServer() as s:
        yield s


def payloads(srv: str) -> list[str]:
    inside = "https://pdf.customer360.invalid"
    return [
        f'<link rel="stylesheet" href="{srv}/linked.css">',
        '<link rel="stylesheet" href="file:///etc/passwd">',
        f'<style>@import url("{srv}/imported.css"); @import "file:///etc/passwd";'
        f" @font-face {{ font-family: Evil; src: url({srv}/font.woff) }}"
        ' body { background: url("http://169.254.169.254/latest/meta-data/") }</style>',
        f"<p style=\"background-image: url('{srv}/style-attribute.png'); font-family: Evil\">styled</p>",
        f'<img src="{srv}/image.png">',
        '<img src="file:///etc/passwd">',
        '<img src="http://169.254.169.254/latest/meta-data/iam/security-credentials/">',
        f'<img src="{srv}/redirect">',
        '<img src="http://127.0.0.1/">',
        '<img src="ftp://127.0.0.1/x.png">',
        f'<a rel="attachment" href="{srv}/attachment.bin">attachment</a>',
        '<a rel="attachment" href="file:///etc/passwd">passwd</a>',
        f'<link rel="attachment" href="{srv}/linked-attachment.bin">',
        f'<object data="{srv}/object.svg" type="image/svg+xml"></object>',
        f'<embed src="{srv}/embed.svg" type="image/svg+xml">',
        f'<svg width="10" height="10"><image href="{srv}/svg-image.png" width="10" height="10"/></svg>',
        f'<img src="{inside}/static/../../../../etc/passwd">',
        f'<img src="{inside}/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd">',
        f'<img src="{inside}/static//etc/passwd">',
        f'<img src="{inside}/media/reseller_logos/../../../../etc/passwd">',
        f'<img src="{inside}:8443/static/css/quote-pdf.css">',
        '<img src="https://user@pdf.customer360.invalid/static/css/quote-pdf.css">',
        f'<img src="{inside}/media/quotes/2026/11/Q-2026-00001-rev1.pdf">',  # other media: not a logo
    ]


def test_every_payload_is_refused_with_zero_bytes_fetched(server):
    html = "<html><head>{}</head><body><h1>Payloads</h1>{}</body></html>".format(
        "".join(payloads(server.url)[:3]), "".join(payloads(server.url)[3:])
    )
    started = time.monotonic()
    result = render_pdf_result(html, timeout=20)
    assert time.monotonic() - started < 20
    assert server.requests == []  # not one request reached the local server
    assert result.served == []  # nothing was read
    refused = set(result.refused)
    for url in [
        f"{server.url}/linked.css", "file:///etc/passwd", f"{server.url}/imported.css", f"{server.url}/font.woff",
        "http://169.254.169.254/latest/meta-data/", f"{server.url}/style-attribute.png", f"{server.url}/image.png",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/", f"{server.url}/redirect",
        "http://127.0.0.1/", "ftp://127.0.0.1/x.png", f"{server.url}/object.svg", f"{server.url}/embed.svg",
        "https://pdf.customer360.invalid/static/../../../../etc/passwd",
    ]:  # fmt: skip
        assert url in refused, url
    reader = PdfReader(io.BytesIO(result.pdf))
    assert reader.attachments == {}  # <a rel=attachment>, <link rel=attachment>: nothing embedded
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Payloads" in text and "root:" not in text


def test_a_base_element_cannot_point_relative_urls_elsewhere(server):
    html = f'<html><head><base href="file:///etc/"></head><body><img src="passwd"><img src="{server.url}/x"></body></html>'
    result = render_pdf_result(html)
    assert result.served == [] and "file:///etc/passwd" in result.refused and server.requests == []


def test_payloads_in_quote_text_are_just_text(reseller, server):
    evil = "".join(payloads(server.url))
    quote = make_quote(
        reseller, sender(reseller), lines=1, name="<img src=x>", description=evil[:290], notes=evil
    )
    with tenant_scope(reseller):
        html = render_snapshot_html(build_snapshot(quote))
    result = render_pdf_result(html, stylesheets=STYLESHEETS)
    assert server.requests == [] and result.refused == []
    assert result.served == [PDF_BASE_URL + "static/css/quote-pdf.css"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(result.pdf)).pages)
    assert "file:///etc/passwd" in text  # printed, not fetched


def test_stylesheets_may_only_import_what_the_document_may_load(tmp_path, server):
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "doc.css").write_text(
        f'@import url("{server.url}/from-css.css"); @import url("file:///etc/passwd");'
        ' @import url("part.css"); h1 { color: #123456 }'
    )
    (static / "css" / "part.css").write_text("p { margin: 0 }")
    (static / "css" / "evil.css").symlink_to("/etc/passwd")
    roots = AllowedRoots(static=(("", str(static)),), logos=str(tmp_path / "logos"))
    html = (
        f'<link rel="stylesheet" href="{PDF_BASE_URL}static/css/doc.css">'
        f'<link rel="stylesheet" href="{PDF_BASE_URL}static/css/evil.css"><h1>Styled</h1><p>text</p>'
    )
    result = render_pdf_result(html, roots=roots)
    assert result.served == [PDF_BASE_URL + "static/css/doc.css", PDF_BASE_URL + "static/css/part.css"]
    assert set(result.refused) == {
        f"{server.url}/from-css.css",
        "file:///etc/passwd",
        PDF_BASE_URL + "static/css/evil.css",
    }
    assert server.requests == []


def test_resolve_local_allows_only_files_inside_the_allowed_folders(tmp_path):
    static, logos = tmp_path / "static", tmp_path / "media" / "reseller_logos"
    (static / "css").mkdir(parents=True)
    logos.mkdir(parents=True)
    (static / "css" / "a.css").write_text("")
    (logos / "acme.png").write_bytes(b"png")
    (tmp_path / "media" / "secret.pdf").write_bytes(b"%PDF")
    (static / "link.css").symlink_to(tmp_path / "media" / "secret.pdf")
    roots = AllowedRoots(static=(("vendor", str(tmp_path / "nothing")), ("", str(static))), logos=str(logos))
    base = "https://pdf.customer360.invalid"
    assert resolve_local(f"{base}/static/css/a.css", roots) == (static / "css" / "a.css").resolve()
    assert resolve_local(f"{base}/media/reseller_logos/acme.png", roots) == (logos / "acme.png").resolve()
    for url in [
        f"{base}/static/link.css",  # a symlink out of the folder
        f"{base}/static/css/../css/a.css", f"{base}/static/css/%2E%2E/css/a.css", f"{base}/static/css\\a.css",
        f"{base}/static/css/missing.css", f"{base}/static/css/", f"{base}/media/secret.pdf",
        f"{base}/media/reseller_logos/../secret.pdf", f"{base}/media/reseller_logos/%2e%2e/secret.pdf",
        "http://pdf.customer360.invalid/static/css/a.css", f"{base}:443/static/css/a.css",
        "file:///etc/passwd", f"{base}/static/css/a.css%00.png", "https://example.com/static/css/a.css",
    ]:  # fmt: skip
        assert resolve_local(url, roots) is None, url


def test_allowed_resources_and_data_urls_are_served_and_attachments_never_embedded():
    html = (
        f'<img src="{PNG_1PX}"><a rel="attachment" href="{PDF_BASE_URL}static/css/quote-pdf.css">css</a>'
        f'<link rel="attachment" href="{PDF_BASE_URL}static/css/quote-pdf.css">'
    )
    result = render_pdf_result(html)
    assert result.served == [PNG_1PX[:80]]
    assert PdfReader(io.BytesIO(result.pdf)).attachments == {}
    assert PDF_BASE_URL + "static/css/quote-pdf.css" in result.refused  # refused as an attachment


def test_project_static_files_resolve_through_the_finders():
    roots = allowed_roots()
    assert resolve_local(PDF_BASE_URL + "static/css/quote-pdf.css", roots) is not None
    assert resolve_local(PDF_BASE_URL + "static/c360/app.css", roots) is not None


def test_a_render_past_its_time_limit_is_stopped_and_the_next_one_works():
    rows = "".join(f"<tr><td>row {i}</td><td>{i}</td></tr>" for i in range(4000))
    started = time.monotonic()
    with pytest.raises(PdfTimeout):
        render_pdf(f"<table>{rows}</table>", timeout=0.5)
    assert time.monotonic() - started < 5  # the helper was killed, not waited for
    assert render_pdf("<p>still working</p>", timeout=30).startswith(b"%PDF")


def test_a_helper_is_retired_after_its_quota_of_renders(settings):
    from customer360.pdf import helper_pids, shutdown_helpers

    settings.C360_PDF_RENDERS_PER_PROCESS = 2
    shutdown_helpers()
    render_pdf("<p>one</p>")
    [first] = helper_pids()
    render_pdf("<p>two</p>")
    assert helper_pids() == []  # stopped after its second render
    render_pdf("<p>three</p>")
    [second] = helper_pids()
    assert second != first


def test_a_helper_started_by_a_big_process_is_kept_between_renders(settings):
    """Linux carries the high-water mark of resident memory across exec: a helper started by a big web
    worker must still judge its own memory, not retire after every render (and break the next one's pipe)."""
    from customer360.pdf import RETIRE_RSS_MB, helper_pids, shutdown_helpers

    settings.C360_PDF_RENDERS_PER_PROCESS = 100
    shutdown_helpers()
    ballast = b"x" * ((RETIRE_RSS_MB + 100) * 2**20)  # this process's peak memory past the helper's limit
    render_pdf("<p>one</p>")
    del ballast
    [first] = helper_pids()
    for n in range(3):
        assert render_pdf(f"<p>again {n}</p>").startswith(b"%PDF")
        assert helper_pids() == [first]
