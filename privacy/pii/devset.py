"""Development PII corpus: the set the engine IS tuned on (the held-out set in heldout.py is not).

Own templates and own name/street pools, so tuning here does not leak the held-out
sentence shapes or names; only generic value shapes (card/IBAN/ID checksums, phone
formats) are shared with the held-out generator. Standard library only, deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from privacy.pii import heldout as h

DEV_SEED = 7

_EN_FIRST = (
    "Alice Bob Carol Dave Erin Frank Gina Hank Irene Jack Kara Liam Mona Nate Olive Pete Quinn Rosa Sam "
    "Tina Umar Vera Walt Xena Yosef Zara Anil Bilal Chidi Dana Elif Femi Goran Hana Ines Jonas Kenta "
    "Lorena Marek Nadia Oscar Paloma Rania Stefan Tomasz Uma Viktor Wanjiru Yara Zoltan"
).split()
_EN_LAST = (
    "Archer Bishop Coleman Dalton Ellison Fowler Grant Hayes Ingram Jennings Keller Lawson Monroe Norris "
    "Osborne Parker Quincy Reyes Shaw Tucker Underwood Vance Walsh Yates Ziegler Abara Bhatt Castillo "
    "Demir Eze Fontaine Horvat Ikeda Jovanovic Kaur Lindqvist Mwangi Novak Oyelaran Petrov Rahimi Sato "
    "Takahashi Varga Wojcik Yilmaz Zhou O'Hara McAllister"
).split()
_ZH_SUR = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
_ZH_GIVEN = (
    "子墨 雨泽 梓萱 一帆 思琪 浩宇 晨曦 佳豪 心怡 欣妍 宇航 昕 珂 瑞 博 霖 涵 悦 琪 航 立伟 淑芬 美华 志刚 "
    "春燕 红霞 德华 学军 国栋 海洋 小红 小军 大伟 家明 婉清 晓峰 秋月 玉珍 桂兰 明辉 "
    "铁柱 二妮 大山 根生 水生 春生 秀云 兰英 玉梅 文斌 天翔 思源 嘉怡 乐瑶 子豪 俊熙 一鸣 安然 "
    "宏图 建平 庆华 永强 金花 小燕 红英 亚军 新民 世杰"
).split()


_EN_ODD_FIRST = [
    "Anaïs",
    "Bartłomiej",
    "Çağla",
    "Hélène",
    "Jörg",
    "Mårten",
    "Ólafur",
    "Raphaël",
    "Siân",
    "Tomás",
    "Anne-Sophie",
    "Karl-Heinz",
    "Mary-Kate",
    "Oisín",
    "Dagný",
    "Lê",
    "Thảo",
    "Nikolaj",
]
_EN_ODD_LAST = [
    "O'Sullivan",
    "MacLeod",
    "McGregor",
    "van den Heuvel",
    "von Essen",
    "di Stefano",
    "del Rio",
    "Lê-Trần",
    "Gauthier-Roy",
    "Ní Bhriain",
    "Ben-David",
    "El-Amin",
    "Sánchez-Vidal",
    "Łodziński",
    "Özdemir",
    "St. John",
    "Le Roux",
]


def _en(r: random.Random) -> str:
    first = r.choice(_EN_ODD_FIRST) if r.random() < 0.25 else r.choice(_EN_FIRST)
    last = r.choice(_EN_ODD_LAST) if r.random() < 0.25 else r.choice(_EN_LAST)
    return f"{first} {last}"


def _en_lower(r: random.Random) -> str:
    return _en(r).lower() if r.random() < 0.8 else r.choice(_EN_FIRST).lower()


def _zh(r: random.Random) -> str:
    return r.choice(_ZH_SUR) + r.choice(_ZH_GIVEN)


def _py(r: random.Random) -> str:
    return f"{r.choice(['Li', 'Wang', 'Zhang', 'Liu', 'Chen', 'Yang'])} {r.choice(['Hao', 'Xin', 'Yue', 'Bo', 'Qing'])}"


# Slots: the dev pools replace the held-out name pools.
SLOTS = dict(h.SLOTS)
SLOTS.update(
    {
        "NAME_EN": (_en, "PERSON", "en_cased"),
        "NAME_EN2": (_en, "PERSON", "en_cased"),
        "FIRST_EN": (lambda r: r.choice(_EN_FIRST), "PERSON", "en_first"),
        "NAME_EN_LOWER": (_en_lower, "PERSON", "en_lower"),
        "NAME_ZH_CUE": (_zh, "PERSON", "zh_cue"),
        "NAME_ZH_BARE": (_zh, "PERSON", "zh_bare"),
        "NAME_ZH_BARE2": (_zh, "PERSON", "zh_bare"),
        "NAME_MIX_EN": (_en, "PERSON", "mixed_en_in_zh"),
        "NAME_MIX_PY": (_py, "PERSON", "mixed_pinyin"),
        "NAME_MIX_ZH": (_zh, "PERSON", "mixed_zh_in_en"),
    }
)

T: dict[str, list[tuple[str, str]]] = {
    "phone": [
        ("en", "Please {cue_en} {PHONE_CUE} regarding the warranty."),
        ("en", "My number: {PHONE_CUE}"),
        ("en", "{cue_en} {PHONE_CUE} (evenings)"),
        ("en", "Contact {NAME_EN} at {PHONE_VALID}."),
        ("en", "{cue_en} {PHONE_UK}"),
        ("de", "{cue_de} {PHONE_DE}"),
        ("zh", "{cue_zh}{CN_MOBILE}"),
        ("zh", "请联系{CN_MOBILE_ODD}"),
    ],
    "ids": [
        ("en", "Email me at {EMAIL} about card {CARD}."),
        ("en", "IBAN {IBAN}; SSN {SSN}; IP {IPV4}"),
        ("zh", "身份证{CN_ID}，银行卡{CN_BANK}"),
        ("en", "server {IPV6} and {IPV4}"),
    ],
    "names": [
        ("en", "Contact {NAME_EN} for details."),
        ("en", "{NAME_EN} and {NAME_EN2} joined the call."),
        ("en", "my name is {NAME_EN_LOWER}"),
        ("en", "i am {NAME_EN_LOWER}, please help"),
        ("zh", "客户{NAME_ZH_CUE}来电咨询。"),
        ("zh", "{NAME_ZH_BARE}今天请假了。"),
        ("zh", "请通知{NAME_ZH_BARE}来领取包裹。"),
        ("zh", "这是{NAME_ZH_BARE}提交的申请。"),
        ("mix", "请把文件发给{NAME_MIX_EN}。"),
        ("mix", "Ask {NAME_MIX_ZH} about the contract."),
        ("mix", "{NAME_MIX_PY}明天出差。"),
        ("en", "Kind regards\n{NAME_EN}\nHead of Procurement"),
        ("en", "Forwarded message from {NAME_EN}:"),
        ("en", "{NAME_EN} has approved the quote."),
        ("en", "The form was signed by {NAME_EN} and witnessed by {NAME_EN2}."),
        ("en", "Hey {FIRST_EN}, quick question about the invoice."),
        ("en", "Owner: {NAME_EN} | Status: open"),
        ("en", "Can {NAME_EN} approve this before Friday?"),
        ("zh", "昨天和{NAME_ZH_BARE}通了电话。"),
        ("zh", "{NAME_ZH_BARE}、{NAME_ZH_BARE2}已到场。"),
        ("zh", "审批人：{NAME_ZH_CUE}"),
        ("mix", "{NAME_MIX_EN}的账户已经锁定。"),
        ("mix", "FYI {NAME_MIX_ZH} 已经同意了"),
        ("en", "Requester: {NAME_EN} (Finance)"),
        ("en", "— {NAME_EN}, Operations"),
        ("en", "{NAME_EN}: the replacement part arrived broken."),
        ("en", "@{FIRST_EN} can you take this one?"),
        ("en", "{NAME_EN}, {NAME_EN2} and {NAME_EN} are on the rota this weekend."),
        ("en", "Mr. {NAME_EN} disputes the late fee."),
        ("en", "Assigned: {NAME_EN}"),
        ("en", "{NAME_EN} mentioned the router reboots every night."),
        ("en", "Visitor {NAME_EN} left the chat."),
        ("en", "Interview with {NAME_EN} rescheduled."),
        ("en", "{FIRST_EN} said the code did not work."),
        ("zh", "麻烦{NAME_ZH_BARE}帮忙看一下。"),
        ("zh", "已经催过{NAME_ZH_BARE}了，他说今天处理。"),
        ("zh", "{NAME_ZH_BARE}负责售后，有问题可以找她。"),
        ("zh", "拜托{NAME_ZH_BARE}明天早点到。"),
        ("zh", "这件事{NAME_ZH_BARE}最清楚。"),
        ("zh", "会议记录：{NAME_ZH_BARE}、{NAME_ZH_BARE2}、王总"),
        ("zh", "让{NAME_ZH_BARE}把报价单发过来。"),
        ("zh", "上次是{NAME_ZH_BARE}接待的您吗？"),
    ],
    "addr": [
        ("en", "Address: {ADDR_US}"),
        ("en", "Send it to {ADDR_UK}."),
        ("de", "Anschrift: {ADDR_DE}"),
        ("zh", "地址：{ADDR_CN}"),
        ("zh", "寄往{ADDR_CN}"),
    ],
    "dob": [
        ("en", "date of birth {DOB_EN}"),
        ("en", "Born: {DOB_EN}"),
        ("zh", "出生日期{DOB_ZH}"),
        ("de", "Geburtsdatum {DOB_DE}"),
    ],
    "decoy": [
        ("zh", "订单号{D_LUHN14}"),
        ("en", "Order number {D_LUHN16}"),
        ("en", "invoice {D_INVOICE} dated {D_DATE}"),
        ("en", "version {D_VERSION} at {D_TIME}"),
        ("en", "listening on {D_PORT}"),
        ("en", "ticket {D_TICKET}, tracking {D_TRACKING}"),
        ("zh", "运单号{D_WAYBILL}，{D_ZHWORD}"),
        ("en", "order {D_ORDER10}, {D_AMAZON}"),
        ("en", "ts {D_TS} err {D_ERR}"),
    ],
}
# Name-free support text (precision): every finding in these is a false positive.
T["plain"] = [
    ("en", "The Customer Success team will review your request within two business days."),
    ("en", "Your Premium Plan renews on {D_DATE}; manage it under Account Settings."),
    ("en", "Please restart the Smart Hub and check the Status Light before calling Technical Support."),
    ("en", "Our Returns Center in Reno accepts parcels Monday through Friday."),
    ("en", "Apple Pay and Google Wallet are supported in the Mobile App since {D_VERSION}."),
    ("en", "Thank you for contacting Acme Support. Ticket {D_TICKET} has been created."),
    ("en", "The Service Level Agreement covers Priority One incidents only."),
    ("en", "Billing Department hours: {D_TIME} to {D_TIME}, Eastern Time."),
    ("en", "Go to Settings > Privacy > Location Services and turn it off."),
    ("en", "New York Office and San Francisco Office are closed on {D_DATE}."),
    ("zh", "您好，您的问题我们已经记录，请耐心等待。"),
    ("zh", "感谢您的反馈，我们会尽快安排技术人员上门维修。"),
    ("zh", "由于物流原因，您的包裹将延迟两天送达。"),
    ("zh", "请在设置页面中打开通知权限，然后重新登录。"),
    ("zh", "本次活动时间为{D_DATE}至{D_DATE}，名额有限。"),
    ("zh", "温馨提示：请勿向任何人透露验证码。"),
    ("zh", "如需开具发票，请在订单详情页申请。"),
    ("zh", "高峰期间客服热线可能较忙，建议使用在线客服。"),
    ("zh", "退款将在三到五个工作日内原路返回。"),
    ("zh", "您购买的商品已出库，正在运输途中。"),
    ("zh", "系统升级期间部分功能暂时无法使用，给您带来不便敬请谅解。"),
    ("zh", "关于您提到的费用问题，我们已经和财务部门确认。"),
    ("zh", "明天上午十点召开项目周会，请各部门负责人准时参加。"),
    ("zh", "请于周五前提交报销单据，逾期不予受理。"),
    ("mix", "请在App Store搜索Acme Cloud并下载最新版本。"),
    ("mix", "我们的Customer Success团队会在24小时内联系您。"),
    ("mix", "Windows Update之后Outlook一直闪退怎么办？"),
    ("de", "Sehr geehrte Damen und Herren, leider ist die Lieferung beschädigt angekommen."),
    ("de", "Vielen Dank für Ihre Geduld. Ihre Bestellung wird morgen versendet."),
    ("de", "Mit freundlichen Grüßen\nIhr Kundenservice"),
    ("de", "Bitte senden Sie uns ein Foto der Verpackung und die Rechnung."),
    ("de", "Der Techniker kommt am Dienstag zwischen {D_TIME} und {D_TIME}."),
    ("en", "CALLER: hi yeah the Wi-Fi keeps dropping\nAGENT: Okay, let's run a Line Test."),
    ("en", "Subject: Re: Delivery Issue\n\nHi team, any update?"),
    ("en", "[{D_TIME}] Bot: Welcome to Live Chat! How can I help?"),
    ("en", "Escalated to Tier Two Support after Remote Session failed."),
    ("en", "Customer prefers Email Contact over Phone Contact."),
    ("en", "Grand Total: {D_AMOUNT} (incl. Sales Tax)"),
    ("en", "Shipped via United Parcel Service Ground, Signature Required."),
    ("en", "Refund approved by Finance Team on {D_DATE}."),
    ("en", "Case closed: Issue Resolved, Customer Satisfied."),
    ("de", "Betreff: Reklamation Waschmaschine"),
    ("de", "Rückruf erbeten, Anliegen dringend"),
    ("de", "Kundennummer {D_ORDER10}, Vertrag gekündigt"),
    ("de", "Zustellung leider gescheitert, Paket liegt in der Filiale"),
    ("de", "Neue Lieferanschrift folgt per Post"),
    ("de", "Gutschrift erfolgt innerhalb von fünf Werktagen"),
    ("de", "Grüße aus der Buchhaltung"),
    ("de", "Termin bestätigt: Montag, {D_TIME} Uhr"),
    ("de", "Ersatzteil bestellt, Lieferzeit ca. zwei Wochen"),
    ("de", "Hallo Team, Kunde wartet noch auf Antwort"),
    ("zh", "您的工单已提交，客服会在{D_TIME}前回复。"),
    ("zh", "快递员反馈地址不详，请补充门牌号。"),
    ("zh", "明天全天停电，机房维护。"),
    ("zh", "安装师傅会提前电话联系您。"),
    ("zh", "常见问题请查看帮助中心。"),
    ("zh", "文明用语，谢谢配合。"),
    ("zh", "金额已退回原支付账户。"),
    ("zh", "石家庄仓库今天发货。"),
    ("zh", "白色款已经售罄，黑色款还有库存。"),
    ("zh", "江苏地区的订单统一由南京仓发出。"),
    ("zh", "孔明灯不属于可邮寄物品。"),
    ("zh", "华为手机用户请更新到最新系统。"),
    ("zh", "成交价以页面显示为准。"),
    ("zh", "时间紧任务重，大家辛苦了。"),
]

COUNTS = {"phone": 300, "ids": 150, "names": 700, "addr": 200, "dob": 150, "decoy": 300, "plain": 200}


def generate(seed: int = DEV_SEED) -> Iterator[dict[str, Any]]:
    return h.generate(seed, COUNTS, T, prefix="dev", slots=SLOTS)
