"""The tagging rules: normalisation, negation and questions, packs and their validation, and the eval floors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from helpdesk_retain.cli import main
from helpdesk_retain.config import ConfigError, TaggingSettings
from helpdesk_retain.tagging.evaluate import evaluate, load_items
from helpdesk_retain.tagging.normalize import QUOTE_MARKS, find, fold, normalize
from helpdesk_retain.tagging.packs import load_pack
from helpdesk_retain.tagging.tagger import build_tagger, tagger_for

EVAL_SET = Path(__file__).parent / "data" / "tagging_eval.jsonl"
#: the competitor names the team behind the labeled set would configure
COMPETITORS = [
    "Zendesk",
    "Freshdesk",
    "HubSpot",
    "Intercom",
    "Salesforce",
    "Monday.com",
    "Zoho",
    "Jira Service Management",
    "飞书",
    "钉钉",
    "企业微信",
    "有赞",
]
#: floors held by the rules on tests/data/tagging_eval.jsonl (targets: P >= 0.90, R >= 0.85, signal R >= 0.85)
COMPLAINT_PRECISION, COMPLAINT_RECALL, SIGNAL_RECALL = 0.95, 0.97, 0.95


@pytest.fixture(scope="module")
def tagger():
    return build_tagger(TaggingSettings(competitors=COMPETITORS))


def test_normalisation_folds_case_width_apostrophes_script_and_repeated_punctuation():
    assert normalize("ＲＥＦＵＮＤ now!!!  Don’t") == "refund now!  don't"
    assert normalize("請儘快處理退款？？") == "请尽快处理退款?"
    assert fold("WHY??? 帳號, ok") == (" WHY? 帳號, ok", " why  帳號  ok", ())
    view, match, inserted = fold("我们换成Zendesk了")
    assert (view, match, inserted) == (" 我们换成 Zendesk了", " 我们换成 zendesk了", (5,))


def test_folding_collapses_a_mark_only_where_it_repeats_itself_and_spaces_latin_only_after_chinese():
    assert fold("Wait.,really?!") == (" Wait.,really?!", " wait  really  ", ())
    assert fold("Really..?~~") == (" Really.?~", " really   ", ())
    assert fold("café1 换成Zendesk") == (" café1 换成 Zendesk", " café1 换成 zendesk", (9,))


def test_a_quote_mark_is_found_where_a_plain_search_finds_it():
    text = "> On Monday you wrote: fine\n-----Original Message-----\n>x\nFrom: Me\n写道 wrote:"
    for mark, _line_start, anchor, _confirm in QUOTE_MARKS:
        for end in range(len(text) + 2):
            assert find(text, mark, anchor, end) == text.find(mark, 0, end), (mark, end)


def test_a_near_rule_pairs_its_lists_within_one_sentence_unless_a_veto_word_is_close(tmp_path):
    pack = tmp_path / "near.toml"
    pack.write_text(
        'language = "en"\n'
        '[[signal]]\nsignal = "downgrade"\nnear = [["trim"], ["seat count", "seats"]]\nwindow = 2\nany_order = true\n'
        'unless = ["admin"]\nunless_window = 3\n'
        '[[signal]]\nsignal = "data_export"\nnear = [["grab"], ["backup"]]\nwindow = 1\n'
    )
    tagger = build_tagger(TaggingSettings(extra_packs=[str(pack)]))
    found = {
        text: dict(tagger.tag(text).signals)
        for text in (
            "Our seats, please trim them.",
            "Please trim. Seats are many.",
            "Please trim seats for the admin team.",
            "I want the backup grabbed, or grab my old backup.",
            "Trim the seat count, then grab a backup.",
        )
    }
    assert list(found.values()) == [
        {"downgrade": "seats, please trim"},
        {},
        {},
        {},
        {"downgrade": "Trim the seat count", "data_export": "grab a backup"},
    ]


def test_one_weak_word_said_twice_is_not_two_weak_cues(tagger):
    assert not tagger.tag("我们已经开通了账号，报表也已经导出了。").complaint  # "already ... already"
    two = tagger.tag("系统有问题，打开很慢。")  # two different weak cues
    assert two.complaint and set(two.evidence) == {"问题", "很慢"}


@pytest.mark.parametrize(
    "text",
    [
        "Not disappointed at all, the new dashboard is great!",
        "No problem, I'll wait for the next release.",
        "How do I cancel a meeting invite I sent by mistake?",
        "What is your refund policy for annual plans?",
        "Thanks, the sync is fixed now and works perfectly.",
        "I can't wait for the new release!",
        "请问退款政策在哪里看",
        "没有问题，谢谢！",
        "不是很失望，只是希望下次快一点。",
        "怎么取消一个误发的会议邀请？",
        "這個功能很好用，謝謝你們！",
    ],
)
def test_hard_negatives_are_neither_complaints_nor_signals(tagger, text):
    tags = tagger.tag(text)
    assert not tags.complaint and dict(tags.signals) == {}, (tags.evidence, dict(tags.signals))


@pytest.mark.parametrize(
    ("text", "signal", "evidence"),
    [
        ("Can you refund last month's payment?", "refund_request", "Can you refund"),
        ("How do I cancel my subscription? I can't find it.", "cancel_intent", "cancel my subscription"),
        ("請幫我取消訂閱，下個月開始不用再扣款了。", "cancel_intent", "取消訂閱"),
        ("我们下个月就换成Freshdesk了", "competitor_mention", "换成Freshdesk"),
        ("Hi team，我们决定不renew了，请帮忙cancel subscription", "cancel_intent", "不renew"),
        ("如果再不處理，我就找律師提告。", "legal_threat", "找律師"),
    ],
)
def test_requests_are_signals_even_as_questions_and_in_any_script(tagger, text, signal, evidence):
    assert tagger.tag(text).signals.get(signal) == evidence


def test_a_negator_outside_its_clause_does_not_cancel_a_complaint(tagger):
    assert tagger.tag("No, I am not joking: I am really disappointed.").complaint
    assert tagger.tag("Why was I charged twice?").complaint
    assert tagger.tag("为什么扣了我两次钱？").category == "billing"


def test_team_terms_and_packs_from_config_are_matched(tmp_path):
    pack = tmp_path / "acme.toml"
    pack.write_text('language = "en"\n[[signal]]\nsignal = "downgrade"\nterms = ["go to the hobby tier"]\n')
    settings = TaggingSettings(
        extra_packs=[str(pack)],
        complaint_terms={"delivery": ["parcel went walkabout"]},
        risk_terms={"legal_threat": ["ombudsperson"]},
    )
    tagger = build_tagger(settings)
    assert tagger.tag("Our parcel went walkabout.").category == "delivery"
    assert "legal_threat" in tagger.tag("I will write to the ombudsperson.").signals
    assert tagger.tag("Please let us go to the hobby tier.").signals["downgrade"] == "go to the hobby tier"


def test_a_bad_pack_names_the_file_and_the_key(tmp_path, make_settings):
    pack = tmp_path / "bad.toml"
    pack.write_text('language = "en"\n[[complaint]]\nstrength = "loud"\nterms = ["meh"]\n')
    with pytest.raises(ConfigError) as caught:
        load_pack(pack)
    assert f"{pack}: complaint.0.strength" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_settings(extra={"tagging": {"extra_packs": [str(pack)]}})
    assert "tagging.extra_packs" in str(caught.value) and "complaint.0.strength" in str(caught.value)


def test_a_pack_rule_needs_terms_or_near_and_config_keys_must_be_known(tmp_path, make_settings):
    pack = tmp_path / "empty.toml"
    pack.write_text('language = "zh"\n[[signal]]\nsignal = "downgrade"\n')
    with pytest.raises(ConfigError, match=r"signal\.0: Value error, give either terms or near"):
        load_pack(pack)
    with pytest.raises(ConfigError, match=r"tagging\.risk_terms"):
        make_settings(extra={"tagging": {"risk_terms": {"angry": ["grr"]}}})
    with pytest.raises(ConfigError, match=r"tagging\.at_risk\.signals"):
        make_settings(extra={"tagging": {"at_risk": {"signals": ["cancel"]}}})


def test_the_tagger_is_built_once_per_configuration(make_settings):
    first, second = make_settings(), make_settings()
    assert first is not second and tagger_for(first) is tagger_for(second)


def test_the_rules_hold_their_floor_on_the_labeled_set(tagger):
    items = load_items(EVAL_SET)
    assert len(items) >= 300 and sum(i.lang == "zh" for i in items) >= 0.45 * len(items)
    report = evaluate(tagger, items)
    for lang in ("en", "zh"):
        counts = report.complaints[lang]
        assert counts.precision >= COMPLAINT_PRECISION, (lang, counts)
        assert counts.recall >= COMPLAINT_RECALL, (lang, counts)
    for signal, counts in report.signals.items():
        assert counts.support >= 15 and counts.recall >= SIGNAL_RECALL, (signal, counts)


def test_eval_tagging_prints_precision_and_recall_per_language_and_signal():
    args = ["eval-tagging", str(EVAL_SET), "--config", "/nonexistent/helpdesk-retain.toml"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "config file not found" in result.output
    args = ["eval-tagging", str(EVAL_SET), *(x for name in COMPETITORS for x in ("--competitor", name))]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["complaints", "items", "complaints", "precision", "recall", "category-accuracy"]
    assert [line.split()[0] for line in lines[1:3]] == ["en", "zh"]
    assert {line.split()[0] for line in lines[5:]} >= {"cancel_intent", "repeat_contact", "legal_threat"}


def test_the_quoted_thread_under_a_reply_is_not_the_customers_words(tagger):
    quote = "On Tue, 3 Nov 2026 at 10:02, Support <s@example.com> wrote:\n> Sorry you are disappointed."
    reply = "Thanks, that worked.\n\n" + quote
    assert not tagger.tag(reply).complaint
    chinese = "好的，谢谢。\n\n在 2026年11月3日 周二 10:02，客服 写道：\n> 很抱歉让您失望了，我们会退款。"
    assert not tagger.tag(chinese).complaint and dict(tagger.tag(chinese).signals) == {}


# Families found missing by a held-out probe (2026-11-26): each case stands for a kind of phrasing, not one sentence.
@pytest.mark.parametrize(
    ("text", "complaint", "signals"),
    [
        # a negator inside a near-rule word ("don't need" of "don't need ... subscription") still negates
        ("We don't need a refund, just the invoice.", False, set()),
        ("we dont need the tool anymore", False, {"cancel_intent"}),
        ("I can't get a refund for the duplicate charge", None, {"refund_request"}),
        # contractions typed without their apostrophe
        ("the export doesnt work and the page isnt loading", True, set()),
        # English words belong to the English pack, with its vetoes, also when both packs are loaded
        ("how can I downgrade a user from admin to agent role?", False, set()),
        ("我们想downgrade到基础版", False, {"downgrade"}),
        # agent boilerplate and conditionals are no requests
        ("如需取消订阅，可随时在设置中操作", False, set()),
        ("若需取消訂閱，請至帳戶設定", False, set()),
        ("如果您想取消自动续费，请在设置里关闭", False, set()),
        ("如需退款，请联系客服", False, set()),
        # a refund request can be negated; a refusal to refund cannot
        ("我不是要退款，只是想问问发票", False, set()),
        ("你们不给我退钱，太过分了", True, {"refund_request"}),
        ("麻烦refund差额", False, {"refund_request"}),
        # Taiwan wording
        ("系统又當掉了，真的很扯", True, set()),
        ("客服都是罐頭回覆", True, set()),
        ("登不進去", True, set()),
        # the legal department is no threat until it is brought in
        ("Legal department here: please send us your latest DPA", False, set()),
        ("Is the court reporting module included in the plan?", False, set()),
        ("Our legal department will be in touch about this", True, {"legal_threat"}),
        ("我们法务需要一份数据处理协议", False, set()),
        ("我会把这件事交给法务处理", True, {"legal_threat"}),
        # other families
        ("Third time I'm writing about this", None, {"repeat_contact"}),
        ("nobody has gotten back to me", True, set()),
        ("the agent was condescending and dismissive", True, set()),
        ("She no longer needs access, please delete her user", False, set()),
        ("I'm leaving for vacation tomorrow", False, set()),
        ("I'll leave you a message later", False, set()),
        ("we'd like to pay annually instead of monthly", False, {"billing_change"}),
        ("信用卡換了，要更新付款資訊", False, {"billing_change"}),
        ("人少了用不了那么多功能", False, set()),
        # a conditional threat is a churn signal: only a hypothetical future ("if we ever", 如果以后) is vetoed
        ("We will cancel our subscription if you don't fix this by Friday", None, {"cancel_intent"}),
        ("I want to cancel my subscription if i can't get the export working today", None, {"cancel_intent"}),
        ("要是再这样我们就不续费了", None, {"cancel_intent"}),
        ("If we ever need to cancel, how does it work?", False, set()),
        # a repeat-contact pair sits in one clause: a count and a word of contact across a comma are no repeat
        ("扣了我两次钱，客服说会处理", True, set()),
        ("我已经联系了三次客服，还是没人处理", True, {"repeat_contact"}),
    ],
)
def test_phrasing_families_a_held_out_probe_found(tagger, text, complaint, signals):
    assert_tags(tagger, text, complaint, signals)


@pytest.mark.parametrize(
    "reply",
    [
        "谢谢，问题解决了。\n\n張三 <zhang@example.com> 於 2026年11月20日 週五 上午10:00寫道：\n> 我要退款，太爛了",
        "谢谢，已经好了。\n\n在 2026年11月20日周五 10:00，张三 <zhang@example.com> 写道：\n我要退款，太烂了",
        "好的收到\n\n-----原始邮件-----\n发件人: 客服 <s@x.com>\n发送时间: 2026年11月20日\n\n我要退款，太烂了",
        "收到\n\n寄件者： 客服 <s@x.com>\n寄件日期： 2026年11月20日\n主旨： 退款\n我要退款，太爛了",
        "Thanks!\n\nOn Thu, Nov 20, 2026 at 10:00 AM Jane Doe <\njane@example.com> wrote:\n> I want a refund, terrible",
    ],
)
def test_chinese_and_wrapped_quoted_threads_are_not_the_customers_words(tagger, reply):
    tags = tagger.tag(reply)
    assert not tags.complaint and not tags.signals, (tags.evidence, dict(tags.signals))


def test_a_customer_quoting_the_docs_keeps_their_words(tagger):
    assert tagger.tag("文档里写道：请先备份数据。但是我还是丢了数据").complaint


@pytest.mark.parametrize(
    ("text", "complaint", "signals"),
    [
        # 1. "问题" / "question" meaning a question, next to 已经 / already
        ("账号已经开好了，还有一个问题：怎么加同事？", False, set()),
        ("發票已經收到，有個問題想請教一下", False, set()),
        ("已经发出，如有任何问题请回复本邮件", False, set()),
        ("We already upgraded. One more question: is SSO included?", False, set()),
        ("I already read the guide but still have a question about tags.", False, set()),
        # 2. Cantonese written Chinese
        ("個app開唔到，撳落去冇反應", True, set()),
        ("打咗好多次都冇人理，你哋搞唔掂", True, set()),
        ("部機壞咗，仲未有人覆我", True, set()),
        ("點解取消咗之後仲照收錢？", True, set()),
        ("呢個月收多咗錢，唔該退錢", True, {"refund_request"}),
        ("我哋唔係想退款，只係想問下發票", False, set()),
        # a definite move to a named rival is leaving (the third probe; the default at-risk rule reads cancel signals)
        ("我们下个季度换到企业微信", False, {"competitor_mention", "cancel_intent"}),
        ("再修不好就只能换供应商了", True, {"cancel_intent"}),
        # 3. hypotheticals and information questions
        ("If we ever decide to cancel, what happens to our data?", None, set()),
        ("Can I downgrade later on if we shrink?", False, set()),
        ("Can you cancel my subscription?", False, {"cancel_intent"}),
        ("如果以后要解约，需要提前多久通知？", None, set()),
        ("降级以后历史工单还在吗？", False, set()),
        ("请帮我取消订阅", False, {"cancel_intent"}),
        # 4. third-party refunds
        ("Our client wants a refund from their customer, where is that set up?", False, set()),
        ("我们的客户想给买家退款，在哪里设置？", False, set()),
        # 5. agent voice and policy
        ("Your refund has been processed, it should show in 5 days.", False, set()),
        ("您好，您的退款已经处理完成。", False, set()),
        ("請問退費政策是怎樣？", False, set()),
        # 6. a failure back after a fix
        ("It was fixed on Monday but it happened again this morning.", True, set()),
        ("上次說已經修好了，今天又出現了", True, set()),
        # 9. contract penalty is no legal threat
        ("提前解约要付违约金吗？", False, set()),
    ],
)
def test_phrasing_families_of_the_second_probe(tagger, text, complaint, signals):
    assert_tags(tagger, text, complaint, signals)


@pytest.mark.parametrize(
    "text",
    [
        "Can you check this format?\n\n---------- Forwarded message ---------\nFrom: Bob\nIt is broken, refund me",
        "See below.\n\nBegin forwarded message:\n\nFrom: Bob\nIt is broken, refund me",
        "这个格式支持吗\n\n---------- 转发的邮件 ---------\n发件人: 张三\n系统崩溃了，我要退款",
        "這個格式支援嗎\n\n---------- 轉寄的郵件 ----------\n寄件者: 張三\n系統當機了，我要退款",
    ],
)
def test_forwarded_mail_is_not_the_customers_words(tagger, text):
    tags = tagger.tag(text)
    assert not tags.complaint and not tags.signals, (tags.evidence, dict(tags.signals))


@pytest.mark.parametrize(
    "text, signals",
    [
        # " let me down" (a complaint) ends inside "download" and used to hide " download all"
        ("Please let me download all our data, we are leaving next month.", {"data_export", "cancel_intent"}),
        ("Can you let me download all of our tickets as CSV?", {"data_export"}),
        ("請讓我下載所有資料", {"data_export"}),
    ],
)
def test_a_key_ending_inside_a_word_hides_no_key_that_starts_within_it(tagger, text, signals):
    tags = tagger.tag(text)
    assert set(tags.signals) == signals, dict(tags.signals)
    assert not tags.complaint, tags.evidence


def test_every_key_that_starts_inside_a_longer_key_ending_mid_word_is_found(tagger):
    # every pair of the shipped rules: text = the longer key's first words + a key starting at one of its next words
    # and running on past its end ("let me" + "download all"); that key must be matched, or one starting earlier
    # that ends on a word's end and covers its first word (leftmost-longest among keys that fit the words)
    from helpdesk_retain.tagging.matcher import Scan, unhidden

    patterns, words = tagger.compiled.patterns, tagger.compiled.word_chars
    by_word: dict[str, list[str]] = {}
    for key in patterns:
        if key.startswith(" "):
            by_word.setdefault(key.split(" ")[1], []).append(key)
    checked = 0
    for hider in patterns:
        if not hider.startswith(" ") or " " not in hider[1:] or hider[-1] not in words:
            continue
        for i in (i for i, ch in enumerate(hider) if ch == " " and i > 0):
            rest = hider[i:]
            first_word = rest.split(" ")[1]
            for key in (k for w, ks in by_word.items() if w.startswith(first_word) for k in ks):
                if not (key.startswith(rest) and len(key) > len(rest) and key[len(rest)] in words):
                    continue
                text = hider[:i] + key + " "
                found = tagger._automaton.find_matches_as_indexes(text)
                if found and found[0][1] == 0 and text[found[0][2]] not in words:
                    continue  # a key of its own covers the text up to a word's end ("no problems"): nothing hidden
                scan = Scan(tagger.compiled, text, text, (), found)
                scan.collect()  # (as ``scan_text`` does: the search again only when this flags a hiding key)
                assert scan.hiding, (hider, key)
                found = unhidden(tagger._automaton, text, found, tagger.compiled) or found
                # the key, or a key of whole words that starts earlier and covers its first word, is matched
                first_end = i + 1 + len(key.split(" ")[1])
                assert any(
                    0 < start <= i and end >= first_end and text[end] not in words for _k, start, end in found
                ), (hider, key)
                checked += 1
    assert checked > 1000  # (the shipped rules hold a few thousand such pairs)


@pytest.mark.parametrize(
    "text, complaint, signals",
    [
        # moving to a named rival is leaving; weighing one, or an integration with it, is a mention only
        ("We're moving to Zendesk when our contract ends.", None, {"competitor_mention", "cancel_intent"}),
        (
            "We switched to HubSpot last month, no further charges please.",
            None,
            {"competitor_mention", "cancel_intent"},
        ),
        ("再這樣一直出包，我們真的會換到 Zendesk。", True, {"competitor_mention", "cancel_intent"}),
        ("说实话，你们再不解决这个报表bug，我们就换钉钉了。", None, {"competitor_mention", "cancel_intent"}),
        ("We're considering switching to Zendesk, what discounts can you offer?", None, {"competitor_mention"}),
        ("我们老板在考虑换成飞书，想先了解一下你们有没有优惠。", False, {"competitor_mention"}),
        ("Could you tell me whether your platform integrates with Freshdesk?", False, set()),
        # leaving without the word "cancel"
        ("Please refund, we never intended to continue.", None, {"refund_request", "cancel_intent"}),
        ("價格一下漲這麼多，真的很誇張，明年應該不會再續約了。", True, {"cancel_intent"}),
        ("你哋個系統成日死機，客服又搵唔到人，約滿我哋一定唔續。", True, {"cancel_intent"}),
        # refunds, downgrades, billing and exports in other words
        ("I want every cent back by Monday.", None, {"refund_request"}),
        ("扣了两次款！！！赶紧给我退一笔回来。", True, {"refund_request"}),
        ("Can you move us to the smaller bundle?", False, {"downgrade"}),
        ("Can we go down to the basic plan?", False, {"downgrade"}),
        ("想把座位數從15個減到8個，下一期開始就好。", False, {"downgrade"}),
        ("Hi, we need to update the VAT number on our account.", False, {"billing_change"}),
        ("請問要怎麼把客戶名單匯出成 Excel？", False, {"data_export"}),
        ("又一次跟你們反映：自動指派規則還是沒作用。", True, {"repeat_contact"}),
        # complaints in other words
        ("Your price for SMS credits is way higher than anyone else's.", True, set()),
        ("Packages keep arriving a week late and our customers blame us.", True, set()),
        ("这个报价比我们之前用的贵了一倍，功能却差不多，性价比太低了。", True, set()),
        ("升级维护也不提前通知一声，客户全在骂，你们的服务意识呢？", True, set()),
        ("這個月帳單怎麼多了一筆看不懂的費用？", True, set()),
        # not complaints, not signals
        ("The automation rules don't fire when a ticket is reopened, is this expected?", None, set()),
        ("请问如何取消单个订单？客户下错单了。", False, set()),
        ("完全没有问题，用得很顺手，已经推荐给好几个朋友的公司了。", False, set()),
        ("Hi Tom, I've issued a refund for the duplicate charge. Best, Alicia", None, set()),
        # the fourth probe (shop owners and marketers)
        ("I have called 5 times. Each time someone promises a callback that never comes.", True, {"repeat_contact"}),
        ("Deliverability has tanked since you moved us to the shared IP pool.", True, set()),
        ("That's extortionate for a one-person shop. Move me down to Basic.", True, {"downgrade"}),
        ("We'd like to go from 10 seats down to 4 starting next month.", False, {"downgrade"}),
        ("The shop is closed over winter, can you move us to the Starter plan from Nov 1?", False, {"downgrade"}),
        ("Please add our VAT ID DE812345678 to all past and future invoices.", False, {"billing_change"}),
        ("Not complaining at all. Quick question: can I export my subscriber list as a CSV?", False, {"data_export"}),
        ("Your support is useless. I've opened 4 tickets about this and nobody answered.", True, {"repeat_contact"}),
        ("If the platform goes down again we will be pursuing damages.", None, {"legal_threat"}),
        ("I'm a lawyer and this is a clear breach of your own terms.", None, {"legal_threat"}),
        ("Lawyer here - I run the online store for a small legal practice. How do I add a footer?", False, set()),
        ("The checkout isn't broken after all, false alarm - the client had an ad blocker on.", False, set()),
        (
            "my buyer wants a refund for a chipped mug, how do i issue a partial refund from the orders page?",
            False,
            set(),
        ),
        ("买家要求退款，我在后台哪里操作部分退款？", False, set()),
        ("請問年繳方案的退費規定是什麼？", False, set()),
        ("上次多扣的钱已经退回来了，谢谢处理～", False, set()),
        ("不修我就换平台", None, {"cancel_intent"}),
        ("我們下個月要遷移到別的平台了。", None, {"cancel_intent", "competitor_mention"}),
        ("我哋諗緊轉去用HubSpot，不過未決定。", None, {"competitor_mention"}),
        ("能不能换一张信用卡扣费？旧卡过期了", False, {"billing_change"}),
        ("發票寄送地址要更新，公司搬到新北市板橋區。", False, {"billing_change"}),
        ("請問可以開立統一編號的發票嗎？", False, set()),
        ("這已經是第四次寫信來反應了，金流串接一直失敗。", True, {"repeat_contact"}),
        ("你們這個月重複刷了我兩次卡！", True, set()),
        ("客服模組的工單常常重複建立。", True, set()),
        ("活動被系統自動取消了？週年慶就這樣沒了，誰要負責？", True, set()),
        ("啲價錢加到離晒譜，細舖點頂得順呀？", True, set()),
        ("請問要怎麼取消已排程的電子報？我不小心排錯日期了。", False, set()),
        ("再不把钱退回来我就去消协投诉！", True, {"refund_request", "legal_threat"}),
        # the fifth probe (gyms, payroll, parcels)
        ("Can I add our employment lawyer as a read-only user so she can view contracts?", False, set()),
        ("怎么给外部律师开一个只读账号查看劳动合同？", False, set()),
        ("員工的法院扣薪命令要在哪裡設定？", False, set()),
        ("I'll talk to my lawyer about this.", None, {"legal_threat"}),
        (
            "Love the app but the new Pro pricing is steep. Can you move us back to Basic from next month?",
            True,
            {"downgrade"},
        ),
        ("How do members downgrade from the unlimited pass to the 8-class plan?", False, set()),
        (
            "Your system filed our tax return late and we've been fined. We expect you to cover this.",
            None,
            {"refund_request"},
        ),
        ("Cancel it properly NOW.", None, {"cancel_intent"}),
        ("淡季学员少，想把教练账号从10个减到6个。", False, {"downgrade"}),
        ("幫我哋轉返Basic啦。", False, {"downgrade"}),
        ("你哋App自動續費咗$1,288，我完全冇同意過，唔退錢我就去消委會投訴。", None, {"refund_request", "legal_threat"}),
        ("俾返運費我！", None, {"refund_request"}),
        ("未经我同意自动续费了398元，马上退钱，不然我去银行申请拒付。", True, {"refund_request"}),
        ("如果不赔偿我们的损失，我们将通过法律途径解决。", None, {"refund_request", "legal_threat"}),
        ("包裹外箱被壓扁，玻璃杯碎了三個，請問要怎麼申請理賠？", None, {"refund_request"}),
        ("我們已經簽了釘釘，月底合同到期就走。", None, {"cancel_intent", "competitor_mention"}),
        ("再这样丢件，我们公司就换物流平台了。", None, {"cancel_intent"}),
        ("請立刻幫我終止合約。", None, {"cancel_intent"}),
        ("会员取消预约后，名额会自动给候补的人吗？", False, set()),
        ("上次約好的教育訓練，你們的顧問沒有出現，也沒有事先通知。", True, set()),
        ("超商取貨的運費怎麼突然從60漲到85？也沒有公告。", True, set()),
        ("之前回報的薪資計算錯誤已經修正了，這個月都正確。", False, set()),
        ("We were a bit surprised to see the price go up at renewal without much notice.", True, set()),
    ],
)
def test_phrasing_families_of_the_third_to_fifth_probes(tagger, text, complaint, signals):
    assert_tags(tagger, text, complaint, signals)


@pytest.mark.parametrize(
    "text, complaint, signals",
    [
        # a negator that ends a near-list word ("isn't" of "isn't ... working") cancels a complaint cue after it
        ("The checkout isn't broken after all.", False, set()),
        ("The app didn't crash this time.", False, set()),
        ("It wasn't broken, my mistake.", False, set()),
        # but not a request: asking is asking ("cannot" and "cant" are such negators of their own)
        ("I can't get a refund", False, {"refund_request"}),
        ("I cannot get a refund", False, {"refund_request"}),
        ("I cant get a refund", False, {"refund_request"}),
        ("It cannot be called slow.", False, set()),
        # and the word itself still starts its own near pair
        ("I can't log in and it keeps crashing", True, set()),
        # a negation that means "as bad as it gets"
        ("This couldn't be worse.", True, set()),
        ("I could not be more frustrated with your support", True, set()),
    ],
)
def test_a_negator_ending_a_near_word_cancels_complaints_not_requests(tagger, text, complaint, signals):
    assert_tags(tagger, text, complaint, signals)


def assert_tags(tagger, text: str, complaint: bool | None, signals: set[str]) -> None:
    """The text's signals are exactly ``signals``; its verdict is ``complaint`` (None: either)."""
    tags = tagger.tag(text)
    assert set(tags.signals) == signals, (text, dict(tags.signals))
    if complaint is not None:
        assert tags.complaint is complaint, (text, tags.evidence)
