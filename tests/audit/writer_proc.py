"""A writer process for the reliability tests: appends N records and prints each acknowledged seq.

    python -m tests.audit.writer_proc URL N SIGNING_KEY SUBJECT_KEY [TAG]

A line "seq" is printed (and flushed) only after the record's future resolved,
i.e. after its transaction committed: the parent treats printed numbers as
acknowledged.
"""

from __future__ import annotations

import asyncio
import sys

from audit.writer import open_writer


async def main(url: str, n: int, signing: str, subject: str, tag: str) -> None:
    w = open_writer(url, signing_key_file=signing, subject_key_file=subject, checkpoint_every=100)
    await w.start()
    print("started", flush=True)
    pending: set[asyncio.Future[int]] = set()
    for i in range(n):
        while len(pending) >= 64:  # keep a window in flight: group commit with steady acknowledgements
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for f in done:
                print(f.result(), flush=True)
        pending.add(
            w.submit(
                "gateway.request",
                {"writer": tag, "i": i},
                tenant=tag,
                subject=f"{tag}-{i % 5}",
                personal={"client_ip": "192.0.2.1"},
            )
        )
    for f in asyncio.as_completed(pending):
        print(await f, flush=True)
    await w.aclose()
    print("done", flush=True)


if __name__ == "__main__":
    url, n, signing, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    asyncio.run(main(url, n, signing, subject, sys.argv[5] if len(sys.argv) > 5 else "w"))
