"""`docs/states.md`, rendered from the two transition tables.

The page is generated, never edited by hand: `tests/sending/test_state_machines.py`
fails when the committed copy differs from what the tables say. Regenerate it with

    .tools/bin/uv run --frozen python -m briefmail.sending.state_docs > docs/states.md
"""

from __future__ import annotations

import sys

from briefmail.sending.batch_states import BATCH
from briefmail.sending.send_states import SEND

REGENERATE = ".tools/bin/uv run --frozen python -m briefmail.sending.state_docs > docs/states.md"


def document() -> str:
    return f"""# Send and batch states

<!-- Generated from briefmail.sending.send_states.SEND and
     briefmail.sending.batch_states.BATCH; do not edit. Regenerate with:
     {REGENERATE} -->

Every status write goes through one function per machine (`send_states.move_sends`,
`batch_states.move_batches`): a conditional UPDATE that moves only rows in a status
the table below moves to the target by that event, and refuses an edge the table
does not have. Each arrow is named by the event that causes it.

## Send

A send is one brief going to its audience (or a proof to a few addresses).

```mermaid
{SEND.mermaid()}
```

{SEND.table()}

## Batch

A batch is at most `BRIEFMAIL_BATCH_SIZE` recipients of a send, sent in one provider
request. `sending` is committed before the request and the answer after it, so a
crash can only leave a batch `sending`; it is then settled from evidence
(`owner-gone`), never resent blindly. `unknown` waits for evidence (`events-arrive`,
`silence-is-evidence`) or an operator (`operator-resolve`).

```mermaid
{BATCH.mermaid()}
```

{BATCH.table()}
"""


if __name__ == "__main__":
    sys.stdout.write(document())
