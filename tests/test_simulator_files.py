"""The offline Slack's external file upload (bot/simulator/files.py), through a real
slack_sdk WebClient and real HTTP: what the bot's chart uploads meet."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.simulator import FakeSlack

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@pytest.fixture
def sim():
    with FakeSlack() as fake:
        fake.add_channel("C1", "mgmt")
        fake.add_channel("C2", "outside", bot_member=False)
        yield fake


@pytest.fixture
def client(sim):
    return WebClient(token=sim.token, base_url=sim.url)


def upload(url: str, data: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value.response["error"]


def test_slack_sdks_files_upload_v2_shares_files_in_a_thread(sim, client):
    root = client.chat_postMessage(channel="C1", text="Monthly review")["ts"]
    answer = client.files_upload_v2(file_uploads=[{"content": PNG, "filename": "volume.png", "title": "Volume"},
                                                  {"content": PNG[:50], "filename": "sla.png", "title": "SLA"}],
                                    channel="C1", thread_ts=root, initial_comment="Charts")
    assert [f["title"] for f in answer["files"]] == ["Volume", "SLA"]
    reply, = sim.replies("C1", root)
    assert reply.text == "Charts" and [f["title"] for f in reply.files] == ["Volume", "SLA"]
    assert "[file: Volume]" in reply.rendered
    shared = sim.shared_files("C1")
    assert [f.data for f in shared] == [PNG, PNG[:50]]
    info = client.files_info(file=shared[0].id)["file"]
    assert info["mimetype"] == "image/png" and info["size"] == len(PNG)
    assert info["shares"]["public"]["C1"][0] == {"ts": reply.ts, "thread_ts": root, "channel_name": "mgmt",
                                                 "team_id": sim.team_id}


def test_an_upload_url_takes_one_upload_of_the_announced_length(sim, client):
    first = client.files_getUploadURLExternal(filename="a.png", length=len(PNG))
    assert upload(first["upload_url"], PNG[:-1])[0] == 400  # not the length announced
    second = client.files_getUploadURLExternal(filename="a.png", length=len(PNG))
    assert upload(second["upload_url"], PNG) == (200, f"OK - {len(PNG)}")
    assert upload(second["upload_url"], PNG)[0] == 404  # used
    assert error_of(lambda: client.files_info(file=second["file_id"])) == "file_not_found"  # not completed yet
    client.files_completeUploadExternal(files=[{"id": second["file_id"], "title": "A"}], channel_id="C1")
    # completing can be done once; a file whose bytes never came can't be completed
    assert error_of(lambda: client.files_completeUploadExternal(files=[{"id": second["file_id"]}],
                                                                channel_id="C1")) == "file_not_found"
    third = client.files_getUploadURLExternal(filename="b.png", length=3)
    assert error_of(lambda: client.files_completeUploadExternal(files=[{"id": third["file_id"]}],
                                                                channel_id="C1")) == "file_not_found"
    assert len(sim.shared_files("C1")) == 1 and len(sim.messages("C1")) == 1


def test_arguments_are_checked_as_slack_does(sim, client):
    assert error_of(lambda: client.api_call("files.getUploadURLExternal", params={"length": 3})) \
        == "invalid_arguments"
    assert error_of(lambda: client.files_getUploadURLExternal(filename="a.png", length=0)) == "missing_argument"
    assert error_of(lambda: client.api_call("files.getUploadURLExternal",
                                            params={"filename": "a.png", "length": "many"})) == "invalid_arguments"
    assert error_of(lambda: client.files_getUploadURLExternal(filename="a.png", length=3, alt_txt="x" * 1001)) \
        == "alt_txt_too_large"
    ready = client.files_getUploadURLExternal(filename="a.png", length=3)
    upload(ready["upload_url"], b"abc")
    complete = lambda **kw: client.api_call("files.completeUploadExternal", params=kw)  # noqa: E731
    assert error_of(lambda: complete(files="not json", channel_id="C1")) == "invalid_arguments"
    assert error_of(lambda: complete(files="[]", channel_id="C1")) == "invalid_arguments"
    one = json.dumps([{"id": ready["file_id"]}])
    assert error_of(lambda: complete(files=one, channel_id="C9")) == "channel_not_found"
    assert error_of(lambda: complete(files=one, channel_id="C2")) == "not_in_channel"
    assert error_of(lambda: complete(files=one, channel_id="C1", thread_ts="1.000001")) == "message_not_found"
    assert error_of(lambda: complete(files=one, thread_ts="1.000001")) == "invalid_arguments"  # a thread needs a channel
    sim.set_archived("C1")
    assert error_of(lambda: complete(files=one, channel_id="C1")) == "is_archived"
    assert not sim.shared_files() and [f.completed for f in sim.uploads_started()] == [False]
    sim.set_archived("C1", False)
    complete(files=one, channel_id="C1")  # none of the refusals used the upload up
    assert [f.title for f in sim.shared_files("C1")] == ["a.png"]


def test_upload_faults_are_injected_by_the_name_upload(sim, client):
    ready = client.files_getUploadURLExternal(filename="a.png", length=3)
    sim.fail_http("upload", 503)
    assert upload(ready["upload_url"], b"abc")[0] == 503
    assert upload(ready["upload_url"], b"abc")[0] == 200
    assert [(c.method, c.status) for c in sim.calls if c.method == "upload"] == [("upload", 503), ("upload", 200)]
