"""Chinese personal names: a common surname plus one or two characters, in a name context.

There is no Chinese NER model on PyPI small enough for the request path, so this
is a rule: a surname from the common-surname list (written from the public
ranking of Chinese surnames, not from any name generator we evaluate on) after a
cue (我叫, 姓名：, 联系人, 收件人 ...) or before an honorific (先生, 女士, 老师 ...).
Recall is reported separately in docs/pii.md; names with no cue are missed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import Pattern, RecognizerResult

from privacy.pii.recognizers.base import FastPatternRecognizer

SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "洪赖萧庄傅蔺厉帅雍郦阚逯"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
# Traditional forms (Taiwan, Hong Kong) of the surnames above that differ from the simplified ones.
TRADITIONAL_SURNAMES = (
    "陳張黃趙吳劉楊許鄭謝羅馮鄧蕭葉蘇呂盧錢孫馬韓蔣鍾譚陸範賈韋鄒閆龍賀顧龔萬嚴湯溫齊喬龐顏聶魯嶽歐關蘭寧紀淩畢"
    "單塗穀駱藍遊靳鮑華饒繆簡車項連蘆麥婁竇黨宮費衛應閔鄔邊師欒榮叢鞏遲鄺壽賴莊鐘"
)
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "令狐",
    "慕容",
    "尉迟",
    "长孙",
    "夏侯",
    "端木",
    "公孙",
    "轩辕",
    "歐陽",
    "司馬",
    "諸葛",
    "東方",
    "長孫",
    "軒轅",
)

# Characters common in given names (simplified and traditional), written from general usage lists
# ("常用名字用字"), not from any generator we evaluate on. Without a cue, a surname followed by one
# or two of these is taken as a name at a low score: recall on cue-less text at some cost in precision.
GIVEN_NAME_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文辉力鹏飞斌宇浩凯俊峰亮波宁琳玲婷雪梅慧红燕萍晶莉玉凤"
    "春梦欣颖倩佳瑶璐怡婉嘉欢晨阳帆旭鑫琪琦瑞祥福贵荣昌盛龙虎豪志坚毅诚忠德智勤淑惠贤秋冬夏振兴鸿宝珍珠琴"
    "霖雯珊琼瑾瑜璇瑛蓉莎菲菁蕾薇芸芝茜莲菊梓涵轩睿泽宸铭博昊晓立新东云月星辰雅君佩冠翰柏进金蓮美珍英"
    "偉華國輝鵬飛濤軍艷傑麗靜蘭剛貴榮龍誠義慧紅鳳夢穎瑤歡陽誌堅瓊軒睿澤銘曉東雲進興寶鴻琴蓮"
    "桂英秀兰玉兰淑珍丹彬斌楠凡航鹏杨翔健康乐林森彤玥婕妍媛娇娥素兵亮刚"
)
_GIVEN = "[" + GIVEN_NAME_CHARS + "]"
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + SINGLE_SURNAMES + TRADITIONAL_SURNAMES + "])"
_HAN = r"[\u4e00-\u9fff]"
# Characters that end a name: punctuation, space, or a common following word.
_END = (
    r"(?=[\s，。、,.;；:：!！?？)）」”\"'和与跟给的是在说打发来去要已也都先女老经医教同总写问看找帮了就还会能把被让向对从"
    r"说過过寫發問請请]|$)"
)
# The cue is matched, and the name is the ``pii`` group (see FastMatch).
_CUE = (
    r"(?:我叫|叫做|名叫|我是|本人|姓名[:：]?\s*|名字[是:：]?\s*|户名[:：]?\s*|"
    r"(?:联系|收件|收货|寄件|发件|签收|下单|经办|申请|持卡|负责|投保|被保险|代理|法定代表|担保|借款|开户|购买|报案|值班|对接|"
    r"接待|办理|审批|审核|提交|填表|就诊|陪同)人[:：是]?\s*|"
    r"(?:客户|用户|患者|病人|员工|同事|业主|租客|房东|乘客|旅客|学员|学生|家长|家属|会员|客服|专员|顾问|司机|骑手|快递员|"
    r"店长|主管|组长|经理|医生|护士|老师|律师|同学|买家|卖家|商家|顾客|住户|车主)[:：]?\s*|"
    r"致|请|给|和|与|跟|找|转告|通知|抄送|@)"
)
_HAS_HAN = re.compile(r"[\u4e00-\u9fff]").search
_HONORIFIC = r"(?=先生|女士|小姐|老师|经理|医生|教授|同学|总监|主任|律师)"


class CnPersonNameRecognizer(FastPatternRecognizer):
    ENTITY = "PERSON"
    PRECHECK = _SURNAME
    PATTERNS = [
        Pattern("cn name after cue", _CUE + r"\s?(?P<pii>" + _SURNAME + _HAN + r"{1,2})" + _END, 0.6),
        Pattern("cn name before honorific", r"(?P<pii>" + _SURNAME + _HAN + r"{0,2})" + _HONORIFIC, 0.6),
        Pattern(
            "cn name at clause start",
            r"(?:^|[\s，。；;！!？?\n：:、])(?P<pii>"
            + _SURNAME
            + _HAN
            + r"{1,2})(?=的|说|打|要|在|已|来|去|将|于|，|說|會|会|是)",
            0.45,
        ),
    ]
    CONTEXT = ["姓名", "名字", "联系人", "先生", "女士", "name"]


class CnPersonNameBareRecognizer(CnPersonNameRecognizer):
    """The cue rule plus names with no cue (``CnBareNameFinder``, jieba's dictionary): the default."""

    def __init__(self, pos_tagger: bool = False) -> None:
        super().__init__()
        self._finder = bare_name_finder()  # loads jieba's dictionary at start-up, not per call
        self._pos = pos_tagger  # also jieba's POS tagger (nr): more recall, ~1 ms per Chinese KB

    def could_match(self, text: str) -> bool:
        return _HAS_HAN(text) is not None

    def find(self, text: str) -> list[RecognizerResult]:
        # The cue rules with jieba's check too: "白色款已经", "请查看" are words, not names.
        found = [
            r
            for r in super().find(text)
            if text[r.start : r.start + 2] in COMPOUND_SURNAMES
            or not self._finder.is_word(text[r.start : r.start + 2])
        ]
        for a, b, score in self._finder.find(text):
            found.append(RecognizerResult("PERSON", a, b, score))
        if self._pos:
            for a, b in self._finder.pos_names(text):
                found.append(RecognizerResult("PERSON", a, b, 0.5))
        return found


class CnPersonNameLooseRecognizer(CnPersonNameRecognizer):
    """Also a surname + common given-name characters with no cue (setting ``cn_names_without_cue``).

    Measured on the held-out templates: Chinese-name recall 0.18 -> 0.79, but about one
    name-free Chinese sentence in four gets a false name (高明, 文明, 黄金): off by default.
    """

    PATTERNS = [
        *CnPersonNameRecognizer.PATTERNS,
        Pattern("cn name by given-name characters", r"(?P<pii>" + _SURNAME + _GIVEN + r"{1,2})", 0.41),
    ]


# --- Chinese names with no cue word -----------------------------------------------------------
# Surnames that are also everyday characters (于是, 和, 高兴, 金额, 方便...): without a cue they need
# a boundary on both sides (punctuation, non-Han text, or a name-introducing/following word).
WEAK_SURNAMES = frozenset(
    "于和向时明全成安常文方白高金路关单解应商师车司古吉连项景党宫费卜冷席卫米柏宗荣桑郎查麻迟农阳华游谷盛曲"
    "童凌毕季纪梅包宁尚符舒甘左兰焦欧申岳鲁章齐易牛康施温汤孔莫武严钱万龙史段雷江熊石范任丁余叶程苏马黄林何"
    "朱周田夏韦付邢乔伍庞颜柯蓝辛管柴蒙仲虞明池苑冉从丛宁能水云山"
)
# Characters that do not occur in given names: particles, pronouns, common verbs after a name.
_NOT_GIVEN = frozenset(
    "的了是在和与就也都很把被让给从向对说要会能着过吗呢吧啊呀哦嗯么这那你我他她它们个之其为以及或而但如因所已将"
    "再又还更最没不无有请您谢号日年元区市县省路街镇村乡州楼室单元层座期次件张份条位名里上下中内外前后左右"
    "来去到回拿找问看帮签处反申投提今昨每各某该此些周星礼拜先色款总"
)
# A name often ends right before these (说, 的, 老师...): a second given character is not taken
# when it is one of them (马悦来领取 -> 马悦).
# Time words (今天, 明天) end a name only when they form a word with the next character (王小明投诉).
_TIME = frozenset("今明昨早晚")
_FOLLOW = frozenset(
    "说的是在和与跟及来去已要将提请也都就还又再给把被让向对从为于拿找问看帮签处反申投老先女经总"
    "同医教律主负家等们通打发讲聊见谈回联商确觉认表称参出进到过接收寄取付买卖退换修装用开关查核办约"
    "了最很不没会可能应该真一刚正"
)
# Words that introduce a name right before it (no cue list entry, but a clear boundary).
_LEFT = (
    "给",
    "和",
    "与",
    "跟",
    "找",
    "转给",
    "交给",
    "问",
    "请",
    "代",
    "由",
    "感谢",
    "谢谢",
    "是",
    "叫",
    "通知",
    "告诉",
    "转告",
    "联系",
    "抄送",
    "@",
    "帮",
    "让",
    "催",
    "约",
    "见",
    "等",
    "把",
    "被",
    "向",
    "对",
    "过",
    "拜托",
    "麻烦",
    "事",
    "有",
    "派",
    "请教",
    "提醒",
    "安排",
    "陪",
    "替",
    "像",
    "当",
)
# Person nouns and labels right before a name (the cue rule's words): with one of these before it,
# a candidate needs no boundary on its right, and the length is decided as for bare names.
_CUE_WORDS = tuple(
    "我叫 叫做 名叫 我是 本人 姓名 名字 户名 客户 用户 患者 病人 员工 同事 业主 租客 房东 乘客 旅客 学员 学生 家长 家属 "
    "会员 客服 专员 顾问 司机 骑手 快递员 店长 主管 组长 经理 医生 护士 老师 律师 同学 买家 卖家 商家 顾客 住户 车主 "
    "联系人 收件人 收货人 寄件人 发件人 签收人 下单人 经办人 申请人 持卡人 负责人 投保人 被保险人 代理人 担保人 "
    "借款人 开户人 购买人 报案人 值班人 对接人 接待人 办理人 审批人 审核人 提交人 填表人 就诊人 陪同人".split()
) + tuple(
    c + p for c in "联系人 收件人 收货人 寄件人 姓名 户名 客户 用户 患者".split() for p in ("：", ":", "是")
)
_PLACE = frozenset("区市县省路街镇村乡州道号楼室巷弄湾岛桥站港")


class CnBareNameFinder:
    """Surname + one or two given-name characters with no cue word (measured in docs/pii.md).

    Uses jieba's dictionary (word -> frequency, POS tag; it ships in the wheel) to tell a name
    from a word that starts with a surname character (高兴, 金额, 周末, 于是): a two-character
    candidate that is a common dictionary word is not a name; one that is not is. jieba's own
    segmentation and ``nr`` tags were measured and lose to this (see docs/pii.md).
    """

    def __init__(self) -> None:
        import jieba
        import jieba.posseg

        jieba.setLogLevel(60)
        jieba.initialize()
        self.freq: dict[str, int] = jieba.dt.FREQ
        self.tags: dict[str, str] = jieba.posseg.dt.word_tag_tab
        self.single = frozenset(SINGLE_SURNAMES + TRADITIONAL_SURNAMES)
        self.compound = frozenset(COMPOUND_SURNAMES)
        self._run = re.compile(r"[\u4e00-\u9fff]+")

    def pos_names(self, text: str) -> list[tuple[int, int]]:
        """jieba's POS tagger: 2-4 character words tagged ``nr`` that start with a surname and
        are not common dictionary words (measured in docs/pii.md; off by default: its cost)."""
        import jieba.posseg

        out = []
        for m in self._run.finditer(text):
            pos = m.start()
            for p in jieba.posseg.lcut(m.group()):
                w = p.word
                if (
                    p.flag == "nr"
                    and 2 <= len(w) <= 4
                    and (w[0] in self.single or w[:2] in self.compound)
                    and not self.is_word(w)
                ):
                    out.append((pos, pos + len(w)))
                pos += len(w)
        return out

    def is_word(self, w: str) -> bool:
        """A dictionary word that jieba does not tag as a person name (白色, 查看; not 李娜)."""
        return self.freq.get(w, 0) >= 30 and self.tags.get(w, "") not in ("nr", "nrfg", "nrt")

    def _word(self, w: str) -> bool:
        f = self.freq.get(w, 0)
        return f >= 300 or (f >= 30 and self.tags.get(w, "") not in ("nr", "nrfg", "nrt"))

    def find(self, text: str) -> list[tuple[int, int, float]]:
        out: list[tuple[int, int, float]] = []
        for m in self._run.finditer(text):
            a, b = m.span()
            if b - a < 2:
                continue
            isolated = (b - a) <= 4  # a short Han run inside Latin text: "cc 王芳 on this"
            i = a
            while i < b - 1:
                two = text[i : i + 2]
                if two in self.compound:
                    sur = 2
                elif text[i] in self.single:
                    sur = 1
                else:
                    i += 1
                    continue
                if sur == 1 and (self._word(text[i : i + 3]) or self._word(text[i : i + 2])):
                    i += 3 if self._word(text[i : i + 3]) else 2  # 石家庄, 高兴: skip the whole word
                    continue
                span = self._candidate(text, i, sur, a, b, isolated)
                if span is None:
                    i += 1
                    continue
                out.append((i, span, 0.6 if isolated else 0.5))
                i = span
        return out

    def _candidate(self, text: str, i: int, sur: int, a: int, b: int, isolated: bool) -> int | None:
        j = i + sur
        if j >= b:
            return None
        g1 = text[j]
        if g1 in _NOT_GIVEN:
            return None
        # Left: the surname must not be the tail of a word (周末于是 -> 于 belongs to 于是, checked
        # below; 赣州市章贡区 -> 市章 is no word, but the place suffix catches it).
        if i > a and self._word(text[i - 1 : i + 1]):
            return None
        if self._word(text[i : j + 1]):
            return None
        end = j + 1
        if end < b:
            g2 = text[end]
            nxt = text[end : end + 2]
            if (
                g2 not in _NOT_GIVEN
                and g2 not in _FOLLOW
                and g2 not in _PLACE
                and not (g2 in _TIME and self._word(nxt))
                and not (self._word(nxt) and not self._word(text[j : end + 1]))
            ):
                end += 1
        if end < b and text[end] in _PLACE:
            return None
        if end - i == 3 and self._word(text[i:end]):
            return None  # 石家庄, 白天鹅: a three-character word
        if isolated or text[max(a, i - 6) : i].endswith(_CUE_WORDS):
            return end
        # Boundaries: what precedes and follows must look like a name's surroundings.
        left_ok = i == a or text[max(a, i - 2) : i].endswith(_LEFT) or text[i - 1] in "，。；、：:！？"
        right = text[end : end + 2]
        right_ok = (
            end == b
            or right[:1] in _FOLLOW
            or right[:1] in _TIME
            or self._word(right)
            or right[:1] in "，。；、：！？"
        )
        if text[i] in WEAK_SURNAMES and sur == 1:
            return end if (left_ok and right_ok) else None
        return end if (left_ok or right_ok) else None


@lru_cache(maxsize=1)
def bare_name_finder() -> CnBareNameFinder:
    return CnBareNameFinder()
