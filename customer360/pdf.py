"""The one way the project turns HTML into PDF (quotes now, invoices later): `render_pdf(html)`.

Two promises, whatever the HTML contains (it carries user text: quote names, notes, terms):

* Nothing is fetched but the project's own static files, uploaded reseller logos and `data:` URLs.
  Documents refer to those through one private origin (PDF_BASE_URL, a reserved `.invalid` host that
  never resolves); `RestrictedFetcher` maps its /static/ and /media/reseller_logos/ paths to files,
  path-traversal safe, and refuses every other URL before any byte is read: file://, http(s) to
  anywhere (no socket is ever opened, so there is nothing to redirect), ftp, other schemes. The same
  fetcher serves stylesheets, @import, images, fonts and SVG references. PDF attachments
  (<link rel=attachment>, <a rel=attachment>) are never embedded, even of allowed files.
* Every render has a time limit. WeasyPrint is CPU-bound Python code that cannot be interrupted from
  another thread, so a thread with a deadline would only stop *waiting* while the render went on
  burning a core. Renders therefore run in small helper processes (a fresh interpreter with WeasyPrint
  imported, reused across renders); on overrun the helper is killed, which really stops the
  work and returns its memory, and the next render starts a fresh helper. A helper is also retired
  after C360_PDF_RENDERS_PER_PROCESS renders or once its resident memory passed RETIRE_RSS_MB (a very
  long quote), so a leak in a C library (Pango, HarfBuzz) can never grow a long-lived worker; it runs
  under an address-space limit, so a pathological document dies alone. Parsed static stylesheets are
  cached in the helper (see render_pdf's `stylesheets`).

The helper needs no Django: the parent resolves the allowed folders and passes them as plain paths.
"""

import logging
import mimetypes
import os
import posixpath
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

PDF_HOST = "pdf.customer360.invalid"  # RFC 2606: .invalid never resolves, so it can't be confused
PDF_BASE_URL = f"https://{PDF_HOST}/"
STATIC_PREFIX = "/static/"
LOGO_PREFIX = "/media/reseller_logos/"
MAX_RESOURCE_BYTES = 5 * 1024 * 1024  # a stylesheet, font or logo larger than this is refused

DEFAULT_TIMEOUT = 25.0  # seconds, under gunicorn's 30 s worker timeout; settings.C360_PDF_TIMEOUT overrides
DEFAULT_PROCESSES = (
    1  # renders at once per Django process (a sync worker serves one request); C360_PDF_PROCESSES
)
DEFAULT_RENDERS_PER_PROCESS = 200  # settings.C360_PDF_RENDERS_PER_PROCESS
DEFAULT_MEMORY_LIMIT_MB = (
    2048  # address space of a helper (a 1,000-line quote peaks near 400 MB); C360_PDF_MEMORY_LIMIT_MB
)
RETIRE_RSS_MB = 512  # a helper whose resident memory reached this exits after the render it did


class PdfRenderError(RuntimeError):
    """The document could not be rendered."""


class PdfTimeout(PdfRenderError):
    """The render overran its time limit and was stopped."""


def pdf_static_url(path: str) -> str:
    """The URL a PDF template uses for one of the project's static files ("css/quote-pdf.css")."""
    return PDF_BASE_URL + "static/" + path.lstrip("/")


def pdf_logo_url(name: str) -> str:
    """The URL of an uploaded reseller logo, from its stored name ("reseller_logos/acme.png")."""
    return PDF_BASE_URL + "media/" + name.lstrip("/")


@dataclass(frozen=True)
class AllowedRoots:
    """The folders the fetcher may read: (prefix, folder) pairs for static files, in finder order, and
    the reseller logo folder. Plain data, so it crosses into the helper process."""

    static: tuple[tuple[str, str], ...]
    logos: str


def allowed_roots() -> AllowedRoots:
    """The project's static folders as django.contrib.staticfiles' finders see them, then STATIC_ROOT
    (collected files, in production), and MEDIA_ROOT/reseller_logos."""
    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.finders import AppDirectoriesFinder, FileSystemFinder

    static: list[tuple[str, str]] = []
    for finder in finders.get_finders():
        if isinstance(finder, FileSystemFinder):
            static += [(prefix or "", str(root)) for prefix, root in finder.locations]
        elif isinstance(finder, AppDirectoriesFinder):
            static += [("", storage.location) for storage in finder.storages.values()]
    if settings.STATIC_ROOT:
        static.append(("", str(settings.STATIC_ROOT)))
    return AllowedRoots(static=tuple(static), logos=str(Path(settings.MEDIA_ROOT) / "reseller_logos"))


def _inside(folder: str, relative: str) -> Path | None:
    """The file `relative` names inside `folder`, or None when it is missing or (after resolving
    symlinks) lies outside it."""
    root = Path(folder).resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def resolve_local(url: str, roots: AllowedRoots) -> Path | None:
    """The allowed file a private-origin URL names, or None. Refuses other hosts, ports, user info,
    encoded or literal `..`/`.` segments, backslashes and NUL before touching the file system."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or parts.netloc != PDF_HOST:
        return None
    path = unquote(parts.path)
    if "\\" in path or "\x00" in path or "//" in path:
        return None
    segments = path.split("/")
    if any(s in {".", ".."} for s in segments) or posixpath.normpath(path) != path:
        return None
    if path.startswith(STATIC_PREFIX):
        relative = path[len(STATIC_PREFIX) :]
        for prefix, folder in roots.static:
            if prefix:
                if not relative.startswith(prefix + "/"):
                    continue
                found = _inside(folder, relative[len(prefix) + 1 :])
            else:
                found = _inside(folder, relative)
            if found:
                return found
        return None
    if path.startswith(LOGO_PREFIX):
        return _inside(roots.logos, path[len(LOGO_PREFIX) :])
    return None


def _make_fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class RestrictedFetcher(URLFetcher):
        """Serves allowed local files and data: URLs; refuses everything else without any I/O.

        Subclasses WeasyPrint 70's URLFetcher (WeasyPrint reads its `_fail_on_errors`) but never calls
        the parent's `fetch`/`open`, so urllib's network, file and redirect handlers are never used."""

        def __init__(self, roots: AllowedRoots):
            super().__init__(timeout=1, allowed_protocols=("data", "https"), allow_redirects=False)
            self.roots = roots
            self.served: list[str] = []
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            if url[:5].lower() == "data:":
                return self._data(url)
            path = resolve_local(url, self.roots)
            if path is None or path.stat().st_size > MAX_RESOURCE_BYTES:
                self.refused.append(url[:300])
                raise ValueError(f"refused by the PDF URL policy: {url[:120]}")
            self.served.append(url)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})

        def _data(self, url):
            # urllib's DataHandler only decodes the URL itself (base64 or percent-encoding): no I/O.
            from urllib.request import DataHandler, Request

            with DataHandler().data_open(Request(url)) as response:
                body = response.read(MAX_RESOURCE_BYTES + 1)
                content_type = response.headers.get("Content-Type", "text/plain")
            if len(body) > MAX_RESOURCE_BYTES:
                self.refused.append(url[:80])
                raise ValueError("data: URL too large")
            self.served.append(url[:80])
            return URLFetcherResponse(url, body, {"Content-Type": content_type})

    class RefuseAll(URLFetcher):
        """Installed on the laid-out document before it is written, when only attachments are fetched."""

        def __init__(self, refused: list[str]):
            super().__init__(allowed_protocols=(), allow_redirects=False)
            self.refused = refused

        def fetch(self, url, headers=None):
            self.refused.append(url[:300])
            raise ValueError("PDF attachments are not embedded")

    return RestrictedFetcher, RefuseAll


@dataclass
class PdfResult:
    pdf: bytes
    served: list[str] = field(default_factory=list)  # URLs served (data: URLs shortened)
    refused: list[str] = field(default_factory=list)  # URLs refused, nothing read for them
    seconds: float = 0.0  # wall time of the render in the helper
    cpu_seconds: float = 0.0  # the helper's CPU time for it (steadier than wall time on a busy machine)


_stylesheets: dict[str, tuple[tuple, object]] = {}  # the helper's parsed stylesheets, by URL
_font_config = None  # the helper's one FontConfiguration


def _fonts():
    """One FontConfiguration for all of a helper's renders. WeasyPrint makes a new one per render by
    default, and each leaves Pango/fontconfig memory behind: about 0.2 MB a render, 4x the helper's
    size after 1,000 renders. Documents declare no @font-face (they use the system's fonts), so
    nothing accumulates in the shared one."""
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config


def _stylesheet(path: str, roots: AllowedRoots, fetcher):
    """A static stylesheet ("css/quote-pdf.css") parsed once per helper and reused while the file is
    unchanged: parsing the document's CSS was a fifth of a short quote's render time. Its @imports go
    through the same restricted fetcher."""
    import weasyprint

    url = pdf_static_url(path)
    found = resolve_local(url, roots)
    if found is None:
        fetcher.refused.append(url)
        return None
    stat = found.stat()
    key = (str(found), stat.st_mtime_ns, stat.st_size)
    cached = _stylesheets.get(url)
    if cached is None or cached[0] != key:
        css = weasyprint.CSS(string=found.read_text(encoding="utf-8"), base_url=url, url_fetcher=fetcher)
        cached = _stylesheets[url] = (key, css)
    fetcher.served.append(url)
    return cached[1]


def render_in_this_process(
    html: str, roots: AllowedRoots, base_url: str = PDF_BASE_URL, stylesheets: tuple[str, ...] = ()
) -> PdfResult:
    """The render itself, with no time limit: run by the helper process (and by nothing else)."""
    import weasyprint

    restricted, refuse_all = _make_fetcher_class()
    started, cpu_started = time.perf_counter(), time.process_time()
    fetcher = restricted(roots)
    sheets = [sheet for sheet in (_stylesheet(p, roots, fetcher) for p in stylesheets) if sheet is not None]
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
        stylesheets=sheets, font_config=_fonts()
    )
    # Attachments are fetched while the PDF is written, not during layout: drop the declared ones and
    # make the document's fetcher refuse <a rel=attachment> targets.
    document.metadata.attachments = []
    document.url_fetcher = refuse_all(fetcher.refused)
    pdf = document.write_pdf()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return PdfResult(pdf, fetcher.served, fetcher.refused, elapsed, cpu)


def _resident_mb() -> float:
    """This process's resident memory now. Not ru_maxrss: on Linux that keeps the high-water mark of the
    process that started the helper (a big web worker or test process), so a new helper would look
    bloated from its first render and retire after every one."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(conn, roots: AllowedRoots) -> None:
    """The helper process's loop: one (html, base_url, stylesheets) in, one ("ok", result dict) or ("error", text) out.
    Plain builtins cross the pipe: the helper runs this file as a script, not as customer360.pdf."""

    # WeasyPrint logs each refused URL as an error; the parent reports them once, with the render.
    weasy_logger = logging.getLogger("weasyprint")
    weasy_logger.addHandler(logging.NullHandler())
    weasy_logger.propagate = False
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if job is None:
            return
        html, base_url, stylesheets = job
        try:
            result = render_in_this_process(html, roots, base_url, tuple(stylesheets))
            conn.send(("ok", {**result.__dict__}))
            if _resident_mb() > RETIRE_RSS_MB:
                return  # a very long document grew this process: the next render gets a fresh one
        except MemoryError:
            conn.send(("error", "the document needs more memory than a PDF render may use"))
            return
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who raises PdfRenderError
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _helper_main(argv: list[str]) -> None:
    """Entry point of a helper: `python -P customer360/pdf.py <socket fd> <memory MB> <roots JSON>`."""
    import json
    import resource
    import socket
    from multiprocessing.connection import Connection

    fd, memory_mb, roots_json = int(argv[1]), int(argv[2]), argv[3]
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    raw = json.loads(roots_json)
    roots = AllowedRoots(static=tuple(tuple(pair) for pair in raw["static"]), logos=raw["logos"])
    sock = socket.socket(fileno=fd)
    _serve(Connection(sock.detach()), roots)
    # Leave without interpreter finalization: nothing is left to flush, and tearing down Pango's and
    # fontconfig's objects at exit can crash (SIGSEGV) after all the work is done.
    os._exit(0)


def _setting(name, default):
    from django.conf import settings

    return getattr(settings, name, default)


class _HelperGone(Exception):
    """The helper had exited before it was sent the document."""


class _Helper:
    """One helper process and the parent's end of its socket.

    The helper is a fresh interpreter running this file as a script (`-P`: its folder is not put on
    sys.path) rather than a multiprocessing child: it needs neither Django nor the caller's __main__
    (which forkserver/spawn would re-import: manage.py, gunicorn, celery, pytest), and imports only
    WeasyPrint, once per helper."""

    def __init__(self, roots: AllowedRoots):
        import json
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        memory = int(_setting("C360_PDF_MEMORY_LIMIT_MB", DEFAULT_MEMORY_LIMIT_MB))
        roots_json = json.dumps({"static": roots.static, "logos": roots.logos})
        self.process = subprocess.Popen(
            [sys.executable, "-P", __file__, str(theirs.fileno()), str(memory), roots_json],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.roots = roots
        self.renders = 0

    def render(self, html: str, base_url: str, stylesheets: tuple, timeout: float) -> PdfResult:
        try:
            self.conn.send((html, base_url, stylesheets))
        except OSError as exc:  # it retired itself after its last render, after the pool kept it
            self.kill()
            raise _HelperGone from exc
        if not self.conn.poll(timeout):
            self.kill()
            raise PdfTimeout(f"the PDF took longer than {timeout:g} s to render and was stopped")
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise PdfRenderError("the PDF renderer stopped unexpectedly") from exc
        self.renders += 1
        if status != "ok":
            raise PdfRenderError(payload)
        return PdfResult(**payload)

    def alive(self) -> bool:
        return self.process.poll() is None and not self.conn.closed

    def stop(self) -> None:
        if not self.conn.closed:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.conn.close()
        try:
            self.process.wait(timeout=2)
        except Exception:  # noqa: BLE001 - still running after the goodbye: make sure
            self.kill()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        if not self.conn.closed:
            self.conn.close()


class _Pool:
    """Idle helpers of this process; at most C360_PDF_PROCESSES renders at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.idle: list[_Helper] = []
        self.slots = threading.BoundedSemaphore(int(_setting("C360_PDF_PROCESSES", DEFAULT_PROCESSES)))

    def take(self, roots: AllowedRoots) -> _Helper:
        with self.lock:
            while self.idle:
                helper = self.idle.pop()
                if helper.alive() and helper.roots == roots:
                    return helper
                helper.stop()
        return _Helper(roots)

    def give_back(self, helper: _Helper) -> None:
        per_process = int(_setting("C360_PDF_RENDERS_PER_PROCESS", DEFAULT_RENDERS_PER_PROCESS))
        if helper.renders >= per_process or not helper.alive():
            helper.stop()
            return
        with self.lock:
            self.idle.append(helper)

    def shutdown(self) -> None:
        with self.lock:
            helpers, self.idle = self.idle, []
        for helper in helpers:
            helper.stop()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool()
        return _pool


def _forget_pool_in_child() -> None:
    # A forked child (gunicorn or Celery prefork) must not share its parent's helper pipes.
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool_in_child)


def shutdown_helpers() -> None:
    """Stop this process's idle helpers (tests and the benchmark use it; workers just exit)."""
    if _pool is not None:
        _pool.shutdown()


def helper_pids() -> list[int]:
    """The idle helpers' process ids (the benchmark reads their memory)."""
    return [h.process.pid for h in (_pool.idle if _pool else [])]


def render_pdf_result(
    html: str,
    *,
    base_url: str = PDF_BASE_URL,
    stylesheets: tuple[str, ...] | list[str] = (),
    timeout: float | None = None,
    roots: AllowedRoots | None = None,
) -> PdfResult:
    """render_pdf() with what was served and refused (for tests and logs)."""
    timeout = float(timeout if timeout is not None else _setting("C360_PDF_TIMEOUT", DEFAULT_TIMEOUT))
    roots = roots or allowed_roots()
    pool = _get_pool()
    deadline = time.monotonic() + timeout
    if not pool.slots.acquire(timeout=timeout):
        raise PdfTimeout(f"no PDF renderer became free within {timeout:g} s")
    try:
        helper = pool.take(roots)
        try:
            try:
                result = helper.render(
                    html, base_url, tuple(stylesheets), max(0.1, deadline - time.monotonic())
                )
            except _HelperGone:  # nothing was rendered: once more, with a new helper
                pool.give_back(helper)
                helper = _Helper(roots)
                result = helper.render(
                    html, base_url, tuple(stylesheets), max(0.1, deadline - time.monotonic())
                )
        finally:
            pool.give_back(helper)  # a killed helper is dropped, a live one kept for the next render
    finally:
        pool.slots.release()
    if result.refused:
        logger.warning("PDF render refused %d URL(s): %s", len(result.refused), ", ".join(result.refused[:5]))
    return result


def render_pdf(
    html: str,
    *,
    base_url: str = PDF_BASE_URL,
    stylesheets: tuple[str, ...] | list[str] = (),
    timeout: float | None = None,
) -> bytes:
    """PDF bytes for `html`, fetching only allowed local files, within `timeout` seconds
    (settings.C360_PDF_TIMEOUT by default). `stylesheets`: the project's static CSS files to apply
    ("css/quote-pdf.css"), parsed once per renderer process rather than linked from the HTML and parsed
    on every render. Raises PdfTimeout or PdfRenderError."""
    return render_pdf_result(html, base_url=base_url, stylesheets=stylesheets, timeout=timeout).pdf


if __name__ == "__main__":
    import sys

    _helper_main(sys.argv)
