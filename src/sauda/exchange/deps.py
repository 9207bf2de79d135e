from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPBasicCredentials

from sauda.auth.deps import api_key_header, client_from_credentials, http_basic
from sauda.auth.models import ClientScope, IntegrationClient
from sauda.db import SessionDep
from sauda.errors import PermissionDenied


async def exchange_client(
    session: SessionDep,
    basic: Annotated[HTTPBasicCredentials | None, Depends(http_basic)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> IntegrationClient:
    """1C: an active integration client with the `exchange` scope (HTTP Basic or X-Api-Key)."""
    client = await client_from_credentials(session, basic, api_key)
    if not client.has_scope(ClientScope.exchange):
        raise PermissionDenied("This integration client lacks the exchange scope")
    return client


ExchangeClient = Annotated[IntegrationClient, Depends(exchange_client)]
