"""The official Python SDK (azure-communication-identity 1.5, sync and aio)
against the emulator: create user, create user and token, get token, revoke,
delete, and the error cases. Usage: python_sdk.py CONNECTION_STRING

With an https:// connection string (the emulator's --tls), the clients come
from `from_connection_string`, trusting the emulator's certificate through
REQUESTS_CA_BUNDLE (requests) and SSL_CERT_FILE (aiohttp)."""

import asyncio
import sys
from datetime import timedelta

from azure.communication.identity import CommunicationIdentityClient, CommunicationTokenScope
from azure.communication.identity.aio import CommunicationIdentityClient as AsyncClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

connection_string = sys.argv[1].strip()
parts = dict(p.split("=", 1) for p in connection_string.strip(";").split(";"))
endpoint, key = parts["endpoint"].rstrip("/"), parts["accesskey"]
tls = endpoint.startswith("https://")
checks = 0


def sync_client():
    # from_connection_string always uses https://: over plain http, the
    # endpoint and key go to the constructor instead.
    if tls:
        return CommunicationIdentityClient.from_connection_string(connection_string)
    return CommunicationIdentityClient(endpoint, AzureKeyCredential(key))


def async_client():
    if tls:
        return AsyncClient.from_connection_string(connection_string)
    return AsyncClient(endpoint, AzureKeyCredential(key))


def check(condition, what):
    global checks
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    checks += 1


def sync_flow():
    client = sync_client()
    user = client.create_user()
    check(user.properties["id"].startswith("8:acs:"), "create_user returns an 8:acs: id")
    user2, token = client.create_user_and_token(
        scopes=[CommunicationTokenScope.CHAT, CommunicationTokenScope.VOIP],
        token_expires_in=timedelta(hours=1),
    )
    check(token.token.count(".") == 2, "create_user_and_token returns a JWT")
    token = client.get_token(user, scopes=[CommunicationTokenScope.VOIP])
    check(bool(token.expires_on), "get_token returns an expiry")
    client.revoke_tokens(user)
    client.delete_user(user2)
    try:
        client.get_token(user2, scopes=[CommunicationTokenScope.CHAT])
        check(False, "a deleted user has no tokens")
    except ResourceNotFoundError as e:
        check(e.status_code == 404, "deleted user: 404")
    try:
        client.get_token(user, scopes=[CommunicationTokenScope.CHAT], token_expires_in=timedelta(minutes=59))
        check(False, "59 minutes is refused")
    except HttpResponseError as e:
        check(e.status_code == 400 and "ExpiresInMinutes" in str(e), "59 minutes: 400 ValidationError ExpiresInMinutes")
    client.delete_user(user)


async def async_flow():
    async with async_client() as client:
        user, token = await client.create_user_and_token(scopes=[CommunicationTokenScope.CHAT])
        check(token.token.count(".") == 2, "aio create_user_and_token returns a JWT")
        await client.revoke_tokens(user)
        await client.delete_user(user)
        try:
            await client.delete_user(user)
            check(False, "deleting twice fails")
        except ResourceNotFoundError:
            check(True, "aio: deleting twice is 404")


sync_flow()
asyncio.run(async_flow())
how = "https, from_connection_string" if tls else "http"
print(f"python sdk interop ({how}): {checks} passed, 0 failed")
