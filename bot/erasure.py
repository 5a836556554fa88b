"""A person's right to be forgotten: `/delete` explains what it does, `/delete confirm` erases the
contact and their whole record. The answer is still sent, but logged nowhere: no record is left."""
from __future__ import annotations

from bot.flows.messages import Inbound, Reply
from bot.library import Library, normalise
from bot.outbox import Cut, post
from bot.routing import Sender
from storage.models import Contact
from storage.unit_of_work import UnitOfWork


def erase(uow: UnitOfWork, library: Library, sender: Sender, contact: Contact, inbound: Inbound,
          cut: Cut) -> Reply:
    """Explain, or erase; the reply goes to the outbox in the same transaction, which is committed."""
    key = "privacy.erased"
    if normalise(inbound.argument) not in library.words_anywhere["confirm"]:
        key = "privacy.explain"  # nothing else is written but the delivery claim
    else:
        uow.agency.forget(contact)
        uow.contacts.erase(contact)
    reply = Reply(library.text(contact.locale, key))
    post(uow, library, sender.channel, sender.external_id, None, "", reply, cut, contact.locale)
    uow.commit()
    return reply
