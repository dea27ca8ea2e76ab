"""Chinese personal names: a common surname plus one or two characters, in a name context.

There is no Chinese NER model on PyPI small enough for the request path, so this
is a rule: a surname from the common-surname list (written from the public
ranking of Chinese surnames, not from any name generator we evaluate on) after a
cue (我叫, 姓名：, 联系人, 收件人 ...) or before an honorific (先生, 女士, 老师 ...).
Recall is reported separately in docs/pii.md; names with no cue are missed.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy.pii.recognizers.base import FastPatternRecognizer

SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "夏侯", "端木", "公孙", "轩辕")

_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + SINGLE_SURNAMES + "])"
_HAN = r"[\u4e00-\u9fff]"
# Characters that end a name: punctuation, space, or a common following word.
_END = r"(?=[\s，。、,.;；:：!！?？)）」”\"'和与跟给的是在说打发来去要已也都先女老经医教同总]|$)"
# Presidio matches with the `regex` module, which allows this variable-width lookbehind.
_CUE = r"(?:我叫|叫做|名叫|我是|姓名[:：]?\s*|名字[是:：]?\s*|联系人[:：]?\s*|收件人[:：]?\s*|客户[:：]?|患者[:：]?|员工[:：]?|同事|负责人[:：]?\s*|经办人[:：]?\s*|申请人[:：]?\s*|持卡人[:：]?\s*|用户[:：]?|致|请|给|和|与|跟)"
_HONORIFIC = r"(?=先生|女士|小姐|老师|经理|医生|教授|同学|总监|主任|律师)"


class CnPersonNameRecognizer(FastPatternRecognizer):
    ENTITY = "PERSON"
    PRECHECK = _SURNAME
    PATTERNS = [
        Pattern("cn name after cue", r"(?<=" + _CUE + r"\s?)" + _SURNAME + _HAN + r"{1,2}" + _END, 0.6),
        Pattern("cn name before honorific", _SURNAME + _HAN + r"{0,2}" + _HONORIFIC, 0.6),
        Pattern("cn name at clause start", r"(?:^|(?<=[\s，。；;！!？?\n]))" + _SURNAME + _HAN + r"{1,2}(?=的|说|打|要|在|已|来|去|将|于|，)", 0.45),
    ]
    CONTEXT = ["姓名", "名字", "联系人", "先生", "女士", "name"]
