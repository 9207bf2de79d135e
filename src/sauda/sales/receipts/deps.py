from typing import Annotated

from fastapi import Depends

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.sales.models import Receipt
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.types import BigId


async def receipt_in_scope(receipt_id: BigId, session: SessionDep, scope: ScopeDep) -> Receipt:
    return await ReceiptRepository(session, scope).get(receipt_id)


async def receipt_for_update(receipt_id: BigId, session: SessionDep, scope: ScopeDep) -> Receipt:
    """Locked after its company is held: returns and deletions of one receipt take turns."""
    return await ReceiptRepository(session, scope).get_for_update(receipt_id)


ScopedReceipt = Annotated[Receipt, Depends(receipt_in_scope)]
LockedReceipt = Annotated[Receipt, Depends(receipt_for_update)]
