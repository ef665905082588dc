"""Caches keyed by log text hold only ordinary texts: a long one is computed, not kept."""

from __future__ import annotations

from maillog_diag.core import classify, reasons
from maillog_diag.core.memo import text_cache


def test_a_long_text_is_not_kept() -> None:
    calls: list[str] = []

    @text_cache(4, max_chars=10)
    def length(text: str) -> int:
        calls.append(text)
        return len(text)

    assert [length("short"), length("short")] == [5, 5]
    assert calls == ["short"]  # the second came from the cache
    long = "x" * 11
    assert [length(long), length(long)] == [11, 11]
    assert calls == ["short", long, long]  # computed each time, never kept
    assert length.cache_info().currsize == 1  # type: ignore[attr-defined]


def test_reply_caches_do_not_keep_long_replies() -> None:
    """The report's caches of reply texts (fold, classification) leave a 100 kB reply out,
    so a log of such replies cannot fill memory with cache keys."""
    caches = (reasons.folds, classify._timeless_shape)
    for cache in caches:
        cache.cache_clear()  # type: ignore[attr-defined]
    reply = "451 4.7.1 " + "y" * 100_000
    reasons.reason_key(reply)
    classify.classify(reply)
    classify.classify_timeless(reply)
    for cache in caches:
        assert cache.cache_info().currsize == 0  # type: ignore[attr-defined]
    reasons.reason_key("451 4.7.1 try later")
    assert reasons.folds.cache_info().currsize == 1  # type: ignore[attr-defined]
    classify.classify_timeless("451 4.7.1 try later")
    assert classify._timeless_shape.cache_info().currsize == 1  # type: ignore[attr-defined]


def test_the_hosts_of_one_provider_share_a_classification() -> None:
    """The classification caches are keyed on the relay's provider (all of the relay a
    classification depends on): Gmail's many MX hosts make one entry, an unknown host
    another, and each gets the answer it got when the key was the host."""
    cache = classify._timeless_shape
    cache.cache_clear()  # type: ignore[attr-defined]
    reply = "450 4.2.1 The user you are trying to contact is receiving mail too quickly."
    hosts = ["gmail-smtp-in.l.google.com", "alt1.gmail-smtp-in.l.google.com",
             "ALT2.ASPMX.L.GOOGLE.COM[192.0.2.1]:25"]  # fmt: skip
    answers = [classify.classify_timeless(reply, relay=host) for host in hosts]
    assert cache.cache_info().currsize == 1  # type: ignore[attr-defined]
    assert answers[0] is not None and answers[0].provider == "gmail"
    assert answers[1:] == answers[:-1]
    other = classify.classify_timeless(reply, relay="mx.example.net")
    assert cache.cache_info().currsize == 2  # type: ignore[attr-defined]
    assert other is not None and other.provider is None


def test_the_classification_cache_stays_small_on_many_destinations() -> None:
    """Postfix names the receiving host in each reply ("host mx1.example.net[...] said:"),
    so a log of many destinations has as many shapes of one reply: 6,145 on the 5M-line
    bench log, where 8,192 entries (3 MiB) gave 6,145 misses in 333,304 calls and 2,048
    entries 7,491 (`TIMELESS_CACHE`). With the two caches behind it (`_scan` and
    `_classify_static`, 1,024 entries each), 5,000 destinations' shapes held 2.9 MiB with
    8,192 entries and 2.0 MiB with 2,048."""
    import gc
    import tracemalloc

    cache = classify._timeless_shape
    cache.cache_clear()  # type: ignore[attr-defined]
    replies = [
        f"host mx1.dest{n}.example[192.0.2.{n % 250}] said: 451 4.7.1 Greylisted, please"
        f" try again later (in reply to RCPT TO command)"
        for n in range(5000)
    ]
    shapes = [classify._shape(reply) for reply in replies]
    cause = classify.classify(replies[0], dsn="4.7.1").cause
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for shape in shapes:
            answer = classify._timeless_shape(shape, "4.7.1", None, None)
            assert answer is not None and answer.cause is cause
        del answer
        gc.collect()
        size = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert cache.cache_info().currsize == min(5000, classify.TIMELESS_CACHE)  # type: ignore[attr-defined]
    assert size < 2.4 * 2**20, f"{size / 2**20:.1f} MiB for 5,000 shapes"
    cache.cache_clear()  # type: ignore[attr-defined]
