"""The desktop target's own answers to what only the Zotero app does (the contract suite holds
it to what every target does): the merge into an item untouched since the upgrade, answers
lost after a commit, the 10.0.3 fault, a swapped database, the signed-in user's keys, and each
refusal with its own message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.core.keys import item_key
from syncd.errors import LibraryChanged, RemoteError
from syncd.sandbox.desktop import DesktopDouble
from syncd.targets.base import VersionConflict
from syncd.targets.desktop import DesktopTarget
from syncd.targets.desktop_auth import DesktopKey, authorize
from tests.helpers import zotero_article


@pytest.fixture
def app() -> Iterator[DesktopDouble]:
    with DesktopDouble() as double:
        yield double


def target(app: DesktopDouble, key: DesktopKey | None = None, **kw: object) -> DesktopTarget:
    t = DesktopTarget(app.url, key or authorize(app.url), sleep=lambda s: None, **kw)  # type: ignore[arg-type]
    t.connect()
    return t


def keys(n: int, salt: str) -> list[str]:
    return [item_key(f"desktop-{salt}-{i}", "users/0") for i in range(n)]


def test_library_and_keys_follow_the_database_and_the_signed_in_user(app: DesktopDouble) -> None:
    t = target(app)
    assert t.library == f"desktop/{app.state.db.server_id}" and t.key_library == "users/0"
    app.state.user_id = 4242
    assert target(app).key_library == "users/4242"
    with pytest.raises(LibraryChanged, match="signed in as user 4242"):
        t.check_access()


def test_a_key_untouched_since_the_upgrade_is_already_there_and_not_merged_into(
    app: DesktopDouble,
) -> None:
    (a,) = keys(1, "merge")
    app.state.seed(a, {"itemType": "journalArticle", "title": "Synced before 10"})
    result = target(app).create_items([zotero_article(a)])
    assert result.existing == {0: a} and not result.created
    assert app.state.db.items[a]["data"]["title"] == "Synced before 10"  # untouched
    assert app.state.writes == 0


@pytest.mark.parametrize("fault", ["500-after", "drop"])
def test_an_answer_lost_after_the_commit_comes_back_existing_and_lost(
    app: DesktopDouble, fault: str
) -> None:
    a, b = keys(2, fault)
    app.state.fail_writes.append(fault)
    result = target(app).create_items([zotero_article(a), zotero_article(b)])
    assert result.existing == {0: a, 1: b} and result.answer_lost
    assert len(app.state.db.items) == 2


def test_a_500_before_the_commit_is_retried(app: DesktopDouble) -> None:
    (a,) = keys(1, "500")
    app.state.fail_writes.append("500")
    result = target(app).create_items([zotero_article(a)])
    assert [k for k, _ in result.created.values()] == [a]


def test_10_0_3_faults_are_transient_never_failures(app: DesktopDouble) -> None:
    (a,) = keys(1, "1003")
    app.state.mode = "10.0.3"
    with pytest.raises(RemoteError, match="primaryData") as info:
        target(app, attempts=2).create_items([zotero_article(a)])
    assert info.value.transient
    assert "restart Zotero" in (info.value.hint or "")


def test_a_swapped_database_is_another_library(app: DesktopDouble) -> None:
    t = target(app)
    old = t.library
    app.state.swap_database()
    with pytest.raises(LibraryChanged):
        t.check_access()
    with pytest.raises(LibraryChanged):
        t.item_versions(0)  # reads carry the Server-ID too: no old version is trusted
    fresh = target(app, DesktopKey(old.split("/")[1], t._key.key))
    assert fresh.library != old and fresh.library == f"desktop/{app.state.db.server_id}"


def test_the_guard_is_the_library_client_version(app: DesktopDouble) -> None:
    t = target(app)
    a, b = keys(2, "guard")
    version = t.library_version()
    app.state.other_client_creates({"itemType": "journalArticle", "title": "Theirs"})
    with pytest.raises(VersionConflict):
        t.create_items([zotero_article(a)], if_unmodified_since=version)
    assert t.create_items([zotero_article(b)], if_unmodified_since=version + 1).created


def test_refusals_say_what_to_do(app: DesktopDouble) -> None:
    key = authorize(app.url)
    t = target(app, key)
    app.state.enabled = False
    with pytest.raises(RemoteError, match="not enabled") as off:
        target(app, key, attempts=1).check_access()
    assert off.value.transient and "Allow other applications" in str(off.value)
    app.state.enabled = True
    app.state.clear_authorizations()
    with pytest.raises(RemoteError, match="setup --desktop") as revoked:
        t.check_access()
    assert not revoked.value.transient
    app.state.mode = "9.0.6"
    with pytest.raises(RemoteError, match="older than Zotero 10") as old:
        t.check_access()
    assert not old.value.transient
    url = app.url
    app.stop()
    with pytest.raises(RemoteError, match="not running") as down:
        DesktopTarget(url, key, attempts=2, sleep=lambda s: None).check_access()
    assert down.value.transient
    assert key.key not in str(down.value) + str(revoked.value)


def test_a_guarded_retry_refused_by_its_own_lost_write_says_so(app: DesktopDouble) -> None:
    t = target(app)
    (a,) = keys(1, "own-lost")
    app.state.fail_writes.append("500-after")  # committed, then 500 with nothing
    with pytest.raises(VersionConflict) as info:
        t.create_items([zotero_article(a)], if_unmodified_since=t.library_version())
    assert info.value.answer_lost  # the engine then counts the item as possibly its own
    assert a in app.state.db.items


def test_a_group_the_app_holds_is_written_with_the_keys_the_web_api_target_derives(
    app: DesktopDouble,
) -> None:
    app.state.user_id = 4242
    app.state.add_group(7, "Lab")
    t = target(app, group=7)
    assert t.library == f"desktop/{app.state.db.server_id}/groups/7"
    assert t.key_library == "groups/7"  # as the Web API target derives them in groups/7
    t.check_access()
    (a,) = [item_key("desktop-group-0", "groups/7")]
    result = t.create_items([zotero_article(a)])
    assert result.created.keys() == {0}
    assert a in app.state.db.groups["7"].items and a not in app.state.db.items
    assert t.known_items([a]).keys() == {a}
    assert t.item_versions(0)[0].keys() == {a}


def test_a_group_the_app_does_not_hold_is_refused_with_what_to_do(app: DesktopDouble) -> None:
    with pytest.raises(RemoteError, match="holds no group 9") as info:
        target(app, group=9).check_access()
    assert info.value.hint and "signed in" in info.value.hint
    with pytest.raises(ValueError, match="signed-in user"):
        app.state.add_group(9, "not signed in: the app holds no groups")
