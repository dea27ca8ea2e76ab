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
    "洪赖萧庄"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
# Traditional forms (Taiwan, Hong Kong) of the surnames above that differ from the simplified ones.
TRADITIONAL_SURNAMES = (
    "陳張黃趙吳劉楊許鄭謝羅馮鄧蕭葉蘇呂盧錢孫馬韓蔣鍾譚陸範賈韋鄒閆龍賀顧龔萬嚴湯溫齊喬龐顏聶魯嶽歐關蘭寧紀淩畢"
    "單塗穀駱藍遊靳鮑華饒繆簡車項連蘆麥婁竇黨宮費衛應閔鄔邊師欒榮叢鞏遲鄺壽賴莊鐘"
)
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "夏侯", "端木", "公孙", "轩辕",
    "歐陽", "司馬", "諸葛", "東方", "長孫", "軒轅",
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
_CUE = r"(?:我叫|叫做|名叫|我是|姓名[:：]?\s*|名字[是:：]?\s*|联系人[:：]?\s*|收件人[:：]?\s*|客户[:：]?|患者[:：]?|员工[:：]?|同事|负责人[:：是]?\s*|经办人[:：是]?\s*|申请人[:：]?\s*|持卡人[:：]?\s*|联系人是|用户[:：]?|致|请|给|和|与|跟)"
_HONORIFIC = r"(?=先生|女士|小姐|老师|经理|医生|教授|同学|总监|主任|律师)"


class CnPersonNameRecognizer(FastPatternRecognizer):
    ENTITY = "PERSON"
    PRECHECK = _SURNAME
    PATTERNS = [
        Pattern("cn name after cue", _CUE + r"\s?(?P<pii>" + _SURNAME + _HAN + r"{1,2})" + _END, 0.6),
        Pattern("cn name before honorific", r"(?P<pii>" + _SURNAME + _HAN + r"{0,2})" + _HONORIFIC, 0.6),
        Pattern(
            "cn name at clause start",
            r"(?:^|[\s，。；;！!？?\n：:、])(?P<pii>" + _SURNAME + _HAN + r"{1,2})(?=的|说|打|要|在|已|来|去|将|于|，|說|會|会|是)",
            0.45,
        ),
    ]
    CONTEXT = ["姓名", "名字", "联系人", "先生", "女士", "name"]


class CnPersonNameLooseRecognizer(CnPersonNameRecognizer):
    """Also a surname + common given-name characters with no cue (setting ``cn_names_without_cue``).

    Measured on the held-out templates: Chinese-name recall 0.18 -> 0.79, but about one
    name-free Chinese sentence in four gets a false name (高明, 文明, 黄金): off by default.
    """

    PATTERNS = [
        *CnPersonNameRecognizer.PATTERNS,
        Pattern("cn name by given-name characters", r"(?P<pii>" + _SURNAME + _GIVEN + r"{1,2})", 0.41),
    ]
