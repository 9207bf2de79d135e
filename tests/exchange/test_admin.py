"""The admin panel lists the batches delivered to 1C without loading their files."""

import httpx

from tests.exchange.conftest import OneCSetup
from tests.factories import Factory
from tests.test_admin import login


async def test_batches_are_listed_and_read_only(
    client: httpx.AsyncClient, factory: Factory, onec_setup: OneCSetup
) -> None:
    await factory.product(onec_setup.company)
    batch = await onec_setup.onec.pull_changes("products")
    admin = await factory.admin()
    assert (await login(client, admin.email)).status_code == 302
    listed = await client.get("/admin/batch/list")
    assert listed.status_code == 200
    assert batch["batch_id"] in listed.text
    details = await client.get(f"/admin/batch/details/{batch['batch_id']}")
    assert details.status_code == 200
    assert batch["ack_token"] not in details.text  # neither the file nor its token is shown
    assert (await client.get("/admin/batch/create")).status_code == 403
