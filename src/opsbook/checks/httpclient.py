"""The HTTP client a batch of checks shares: one connection per check, TLS set up lazily.

:class:`~opsbook.checks.base.SharedResources` makes it when the batch's first http request is
sent, so a file that is only validated, or checks that make no request, never import httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def make_client(size: int) -> httpx.AsyncClient:
    """One client for a batch of ``size`` checks: one connection each, TLS set up lazily."""
    import httpx

    # One connection per check: a pool smaller than the batch would serialise slow endpoints.
    limits = httpx.Limits(max_connections=max(size, 1), max_keepalive_connections=0)
    return httpx.AsyncClient(transport=_transport(limits), follow_redirects=True)


def _transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    import ssl

    import httpx

    class BySchemeTransport(httpx.AsyncBaseTransport):
        """httpx's transport, with the certificate-verifying one built on the first https request.

        Loading the CA bundle takes about 30 ms, a tenth of a batch of local http checks that
        never use it. https requests (a redirect included) get the default, verifying
        transport; plain http ones a transport whose TLS context trusts nothing, which plain
        http never uses.
        """

        def __init__(self) -> None:
            self.plain = httpx.AsyncHTTPTransport(
                limits=limits, verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            )
            self.tls: httpx.AsyncHTTPTransport | None = None

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.scheme != "https":
                return await self.plain.handle_async_request(request)
            if self.tls is None:
                self.tls = httpx.AsyncHTTPTransport(limits=limits)
            return await self.tls.handle_async_request(request)

        async def aclose(self) -> None:
            await self.plain.aclose()
            if self.tls is not None:
                await self.tls.aclose()

    return BySchemeTransport()
