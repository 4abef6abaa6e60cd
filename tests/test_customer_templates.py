"""Operators replace the customer-facing texts with `customer_templates: DIR` (issue 12 §1):
their templates are used for the acknowledgment, progress update and resolution
confirmation; `escalator policy check` renders each with a sample ticket and names the file
and the error; whatever a template does, every placeholder stays escaped for mrkdwn."""
from importlib import resources

import pytest
import yaml

from bot.cli import main
from bot.ids import ActionId
from bot.policy import load_policy
from bot.quality import customer_templates
from tests.harness import AGENT, CHANNELS, Harness

ACME = "C0ACMECONNECT"


def policy_file(tmp_path, templates: dict[str, str] | None, directory="texts"):
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data["customer_channels"] = {"ACME GmbH": ACME}
    data["customer_templates"] = directory
    folder = tmp_path / directory
    folder.mkdir(exist_ok=True)
    for name, text in (templates or {}).items():
        (folder / name).write_text(text)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def check(path, capsys) -> tuple[int, str]:
    code = main(["policy", "check", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_operators_templates_are_used_and_missing_ones_fall_back(tmp_path, sqlite_url):
    path = policy_file(tmp_path, {
        "acknowledgment.j2": "Hi from ACME support! *{{ key }}*: {{ summary }} is with {{ level_name }}.",
        "progress.j2": "Status of {{ key }}: {{ latest_note or 'no news' }}. Next by {{ next_update_by }}.",
    })
    with Harness(sqlite_url, policy=load_policy(path)) as running:
        running.sim.add_channel(ACME, "acme")
        key = running.new_ticket(Summary="Sync <!here> stalls", Customer="ACME GmbH")
        told = running.sim.wait_for(lambda: running.sim.messages(ACME), message="the acknowledgment")[0]
        assert f"Hi from ACME support! *{key}*: Sync &lt;!here&gt; stalls is with Tier 1." in told.rendered
        briefing = running.briefing(key)
        modal = running.modal_from(AGENT, briefing, ActionId.UPDATE_CUSTOMER)
        prefilled = next(b for b in modal.blocks if b.get("block_id") == "message")["element"]["initial_value"]
        assert prefilled.startswith(f"Status of {key}: no news. Next by ")
        resolve = running.modal_from(AGENT, briefing, ActionId.RESOLVE)
        running.driver.submit_view(AGENT, resolve.id, {"Resolution": "Fixed", "Root cause": "Bug"})
        confirmation = running.sim.wait_for(lambda: [m for m in running.sim.messages(ACME)
                                                     if "was resolved" in m.rendered], message="built-in resolution")
        assert "How satisfied are you" in confirmation[0].rendered


def test_policy_check_renders_each_template_and_names_file_line_and_error(tmp_path, capsys):
    path = policy_file(tmp_path, {
        "acknowledgment.j2": "Hello {{ customer }}.\nDue {{ respond_by }} {{ nope }}",
        "progress.j2": "Update on {{ key }\n",
        "resolution.j2": "{{ summary.__class__.__mro__ }}",
        "farewell.j2": "Bye",
    })
    code, output = check(path, capsys)
    folder = (tmp_path / "texts").resolve()
    assert code == 1
    assert f"customer_templates: {folder / 'acknowledgment.j2'} line 2: 'nope' is undefined" in output
    assert f"customer_templates: {folder / 'progress.j2'} line 1: unexpected '}}'" in output
    assert f"customer_templates: {folder / 'resolution.j2'}" in output and "__class__" in output
    assert f"{folder / 'farewell.j2'}: unknown template" in output


def test_policy_check_passes_good_templates_and_refuses_a_missing_directory(tmp_path, capsys):
    good = policy_file(tmp_path, {"progress.j2": "{{ key }}: {{ latest_note|default('no news', true) }}"})
    assert check(good, capsys)[0] == 0
    data = yaml.safe_load(good.read_text())
    data["customer_templates"] = "does-not-exist"
    good.write_text(yaml.safe_dump(data))
    code, output = check(good, capsys)
    assert code == 1 and "customer_templates: no such directory:" in output and "does-not-exist" in output


def test_a_template_that_renders_nothing_is_refused(tmp_path, capsys):
    code, output = check(policy_file(tmp_path, {"resolution.j2": "{% if false %}x{% endif %}"}), capsys)
    assert code == 1 and "resolution.j2: renders to an empty message" in output


@pytest.mark.parametrize("text", [
    "{{ summary }}", "{{ summary|safe }}", "{{ summary|e }}", "{{ summary|string|upper|lower }}",
    "{% set s = summary %}{{ s }}", "{{ '%s'|format(summary) }}", "{{ [summary]|join }}",
])
def test_no_template_can_emit_raw_user_text(tmp_path, text):
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "progress.j2").write_text(text)
    customer_templates._environment.cache_clear()
    rendered = customer_templates.render(str(folder), "progress", {"summary": "<!channel> <@U1> & <https://x|y>"})
    assert "<!channel>" not in rendered and "<@U1>" not in rendered and "<https" not in rendered
    assert "&lt;!channel&gt;" in rendered or "|e" in text  # |e escapes for HTML first: harmless, not raw
    customer_templates._environment.cache_clear()
