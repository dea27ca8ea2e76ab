"""Held-out PII corpus: support tickets, chat logs, call transcripts, e-mails and CRM notes.

Written from what real customer-support text looks like, NOT from the recognizers
(the templates were written before the recognizer code was read, see docs/pii.md).
Never tune the engine on this set: tune on ``privacy.pii.devset`` and only *measure* here.

Deterministic: ``generate(seed=HELDOUT_SEED)`` always yields the same records
(tests pin a digest of the output). Standard library only.

Record format (the one ``privacy.pii.evaluation`` reads)::

    {"id": "ho-00001", "lang": "en"|"zh"|"mix", "text": ...,
     "spans":  [{"start", "end", "entity_type", "tag"}],   # values that must be found
     "decoys": [{"start", "end", "kind"}]}                   # look-alikes that must be kept

``tag`` says which shape produced the value (``zh_bare`` = Chinese name with no cue word,
``nanp_cue`` = North-American number next to a cue, ``en_lower`` = lower-case English name...),
so the reports can break recall down by the hard cases.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

HELDOUT_SEED = 20261129

# --------------------------------------------------------------------------------------------
# value pools
# --------------------------------------------------------------------------------------------

EN_FIRST = (
    "James Mary Robert Patricia Michael Jennifer David Linda William Elizabeth Richard Susan Joseph Jessica "
    "Thomas Sarah Christopher Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Donald Ashley Steven "
    "Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Kathleen Jacob Amy "
    "Siobhan Niamh Aoife Ciaran Padraig Seamus Eoin Grainne Dermot "
    "Priya Rahul Ananya Vikram Sanjay Deepika Arjun Kavita Rajesh Lakshmi Suresh Meera Aditya Pooja "
    "Oluwaseun Chinedu Ngozi Adebayo Chiamaka Emeka Folake Kwame Ama Kofi Abena Tendai Thabo Zanele "
    "Mohammed Fatima Ahmed Aisha Omar Layla Yusuf Zainab Hassan Mariam Karim Nour Tariq Salma "
    "Jose Maria Juan Guadalupe Carlos Alejandro Lucia Sofia Mateo Valentina Diego Camila Javier Ximena "
    "Nguyen Thi Minh Anh Duc Linh Hoa Tuan "
    "Hiroshi Yuki Haruto Sakura Kenji Aiko Takeshi Naoko Ji-woo Min-jun Seo-yeon Hyun-woo Soo-jin "
    "Dmitri Olga Sergei Natalia Ivan Svetlana Anastasia Mikhail Ekaterina Wojciech Agnieszka Katarzyna "
    "Lars Ingrid Sven Astrid Bjorn Freya Pieter Annelies Joost Sanne Luca Giulia Matteo Chiara "
    "Francois Amelie Mathieu Chloe Jean-Luc Marie-Claire Zoe Renee Noemie Jurgen Gunther Anneliese "
    "Wei Fang Xiaoming Lei Jing Yan Hui Jun Ming Li Tao Hong Bo Na"
).split()

EN_FIRST_ACCENTED = [
    "José",
    "Zoë",
    "Renée",
    "Jürgen",
    "Łukasz",
    "Søren",
    "Björn",
    "Chloé",
    "Noémie",
    "Iñaki",
    "Ségolène",
    "Andrés",
    "Małgorzata",
    "Dağhan",
    "Şule",
    "François",
    "Thành",
    "Ngọc",
]

EN_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall "
    "Rivera Campbell Mitchell Carter Roberts Murphy Kelly Sullivan Byrne Gallagher Fitzgerald Kavanagh "
    "Patel Sharma Singh Iyer Reddy Nair Gupta Chatterjee Banerjee Mukherjee Krishnan Venkataraman "
    "Okafor Adeyemi Okonkwo Mensah Boateng Owusu Nwosu Abiodun Mbeki Ndlovu Dlamini Khumalo "
    "Haddad Khalil Nasser Rahman Hussain Siddiqui Qureshi Farouk Mansour Aziz "
    "Tran Pham Hoang Phan Vu Dang Bui Do Ngo "
    "Tanaka Suzuki Watanabe Yamamoto Nakamura Kobayashi Sato Kim Park Choi Jung Kang "
    "Ivanov Petrova Smirnov Volkov Kowalski Nowak Wisniewska Lewandowski "
    "Andersson Johansson Larsen Nielsen Jensen Bakker Visser Janssen Rossi Russo Esposito Bianchi "
    "Dubois Lefebvre Moreau Laurent Schneider Fischer Weber Wagner Becker Hoffmann Schulz "
    "Zhang Wang Chen Liu Huang Zhao Zhou Wu Xu Sun Ma Zhu Hu Guo Lin"
).split()

EN_LAST_ODD = [
    "O'Brien",
    "O'Connor",
    "McDonald",
    "MacKenzie",
    "Smith-Jones",
    "Garcia-Lopez",
    "van der Berg",
    "de la Cruz",
    "Müller",
    "Nguyễn",
    "Sørensen",
    "D'Angelo",
    "St. Clair",
    "Ó Súilleabháin",
    "Al-Farsi",
    "Abu-Bakr",
    "Van Dyke",
    "da Silva",
    "Fernández",
    "Dąbrowski",
    "Öztürk",
]

ZH_SURNAME = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 彭 曾 肖 田 董 袁 潘 "
    "于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 廖 贾 夏 韦 付 方 白 邹 孟 熊 秦 邱 "
    "江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万 钱 严 覃 武 戴 莫 孔 向 汤 常 温 康 施 文 牛 樊 葛 "
    "邢 安 齐 易 乔 伍 庞 颜 倪 庄 聂 章 鲁 岳 翟 殷 詹 申 欧 耿 关 兰 焦 俞 左 柳 甘 祝 包 宁 尚 符 舒 阮 柯 "
    "纪 梅 童 凌 毕 单 季 裴 霍 涂 成 苗 谷 盛 曲 翁 冉 骆 蓝 路 游 辛 靳 管 柴 蒙 鲍 华 喻 祁 蒲 房 滕 屈 饶 "
    "解 牟 艾 尤 阳 时 穆 农 司 卓 古 吉 缪 简 车 项 连 芦 麦 褚 娄 窦 戚 岑 景 党 宫 费 卜 冷 晏 席 卫 米 柏 "
    "宗 瞿 桂 全 佟 应 臧 闵 苟 邬 边 卞 姬 师 和 仇 栾 隋 商 刁 沙 荣 巫 寇 桑 郎 甄 丛 仲 虞 敖 巩 明 佘 池 "
    "查 麻 苑 迟 邝"
).split()
ZH_COMPOUND = [
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "令狐",
    "慕容",
    "夏侯",
    "公孙",
    "尉迟",
    "长孙",
    "端木",
]
ZH_GIVEN = (
    "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 建国 建华 建军 国强 国庆 志强 "
    "志明 晓东 晓明 晓燕 晓红 海燕 海涛 海峰 雪梅 玉兰 丽华 春梅 淑珍 凤英 文静 文华 文涛 子涵 子轩 浩然 "
    "梓涵 欣怡 一诺 宇轩 雨桐 思远 佳怡 诗涵 俊杰 嘉豪 梦琪 若曦 天佑 博文 语嫣 沐阳 锦程 泽宇 昊天 "
    "家乐 美玲 凯 琳 倩 健 斌 鹏 辉 峰 波 宁 蕾 婷 颖 萍 玲 红 慧 莉 雯 璐 鑫 彬 帆 翔 瑶 琦 悦 楠 "
    "健身 振华 德胜 秋菊 冬梅 桂芝 淑华 永刚 立新 卫东 红梅 爱华 宏伟 少华 光辉 金凤 银花 福生 来福 "
    "安琪 紫萱 思彤 若溪 一鸣 承泽 沛然 景行 知秋 南星 北辰 清和 望舒 星河 听雨"
).split()

# Surname-initial words that are NOT names (precision traps for surname tables).
ZH_NAME_TRAPS = [
    "高兴",
    "张贴",
    "李子",
    "黄金",
    "周末",
    "金额",
    "马上",
    "于是",
    "林业",
    "陈列",
    "钱包",
    "白天",
    "方便",
    "石头",
    "常见",
    "安全",
    "文件",
    "明天",
    "江湖",
    "龙头",
    "程序",
    "路由器",
    "宁可",
    "包装",
    "毛巾",
    "时间",
    "全部",
    "车辆",
    "关于",
    "管理",
    "华为",
    "成都",
    "武汉",
    "温度",
    "费用",
    "游戏",
    "简单",
    "连接",
    "项目",
    "严重",
    "尚未",
    "任何",
    "申请",
    "孔径",
    "向您",
    "和平",
    "万达",
]

NANP_VALID_AREAS = [
    201,
    202,
    203,
    205,
    206,
    210,
    212,
    213,
    214,
    215,
    216,
    217,
    301,
    302,
    303,
    305,
    310,
    312,
    313,
    314,
    317,
    404,
    408,
    412,
    415,
    425,
    469,
    503,
    512,
    602,
    614,
    617,
    619,
    646,
    650,
    702,
    713,
    718,
    720,
    773,
    801,
    813,
    818,
    858,
    904,
    917,
    919,
    949,
    971,
    972,
]

US_CITIES = [
    ("Austin", "TX", "787"),
    ("Brooklyn", "NY", "112"),
    ("New York", "NY", "100"),
    ("Chicago", "IL", "606"),
    ("Seattle", "WA", "981"),
    ("Portland", "OR", "972"),
    ("Denver", "CO", "802"),
    ("Atlanta", "GA", "303"),
    ("Boston", "MA", "021"),
    ("San Jose", "CA", "951"),
    ("Los Angeles", "CA", "900"),
    ("Miami", "FL", "331"),
    ("Columbus", "OH", "432"),
    ("Phoenix", "AZ", "850"),
    ("Nashville", "TN", "372"),
    ("Mountain View", "CA", "940"),
    ("St. Louis", "MO", "631"),
    ("Salt Lake City", "UT", "841"),
    ("Madison", "WI", "537"),
    ("Raleigh", "NC", "276"),
    ("Fort Worth", "TX", "761"),
    ("Tampa", "FL", "336"),
]
US_STREETS = [
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Sunset",
    "Park",
    "Main",
    "Highland",
    "Ridge",
    "Willow",
    "Church",
    "Mill",
    "Lincoln",
    "Jefferson",
    "Meadowbrook",
    "Old Farm",
    "Martin Luther King Jr",
    "Peachtree",
    "Camino Real",
    "Ocean View",
    "Amphitheatre",
    "Hollow Creek",
]
US_SUFFIX = [
    "St",
    "Street",
    "Ave",
    "Avenue",
    "Blvd",
    "Rd",
    "Road",
    "Dr",
    "Drive",
    "Ln",
    "Lane",
    "Ct",
    "Way",
    "Pkwy",
    "Pl",
    "Ter",
    "Cir",
]

UK_TOWNS = [
    ("London", ["SW1A 2AA", "E1 6AN", "N7 9PW", "SE15 4QL", "W2 1JB", "NW3 5SJ", "EC1V 9HX"]),
    ("Manchester", ["M1 1AE", "M14 5RT", "M20 2LF"]),
    ("Leeds", ["LS6 1AB", "LS2 9JT"]),
    ("Birmingham", ["B33 8TH", "B15 2TT"]),
    ("Edinburgh", ["EH1 1YZ", "EH8 9YL"]),
    ("Bristol", ["BS1 4DJ", "BS8 1TH"]),
    ("Cardiff", ["CF10 3AT"]),
    ("Glasgow", ["G12 8QQ", "G3 7XN"]),
    ("Oxford", ["OX1 2JD"]),
    ("Brighton", ["BN1 1AE"]),
    ("Belfast", ["BT7 1NN"]),
]
UK_STREETS = [
    "Church",
    "Station",
    "Victoria",
    "Green",
    "Manor",
    "Park",
    "Queens",
    "Kings",
    "Mill",
    "High",
    "Grange",
    "Windsor",
    "Albert",
    "Stanley",
    "Beech",
    "Chestnut",
    "Orchard",
    "Wellington",
]
UK_SUFFIX = [
    "Road",
    "Street",
    "Lane",
    "Avenue",
    "Close",
    "Gardens",
    "Crescent",
    "Drive",
    "Terrace",
    "Way",
    "Grove",
]

DE_CITIES = [
    ("10115", "Berlin"),
    ("10969", "Berlin"),
    ("80331", "München"),
    ("20095", "Hamburg"),
    ("50667", "Köln"),
    ("60313", "Frankfurt am Main"),
    ("70173", "Stuttgart"),
    ("40213", "Düsseldorf"),
    ("04109", "Leipzig"),
    ("01067", "Dresden"),
    ("90403", "Nürnberg"),
    ("28195", "Bremen"),
    ("30159", "Hannover"),
    ("69117", "Heidelberg"),
    ("79098", "Freiburg im Breisgau"),
]
DE_STREETS = [
    "Hauptstraße",
    "Lindenstraße",
    "Goethestraße",
    "Schillerstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Bergstraße",
    "Kirchgasse",
    "Friedrichstraße",
    "Kastanienallee",
    "Sonnenallee",
    "Goethestr.",
    "Schulstr.",
    "Mühlenweg",
    "Am Markt",
    "Am Stadtpark",
    "Rosenweg",
    "Karl-Marx-Allee",
    "Königsallee",
    "Ludwigstraße",
    "Marienplatz",
    "Theresienstr.",
    "Weinbergsweg",
]

CN_PLACES = [
    ("广东省", "深圳市", ["南山区", "福田区", "宝安区", "龙岗区"]),
    ("广东省", "广州市", ["天河区", "越秀区", "海珠区", "番禺区"]),
    ("浙江省", "杭州市", ["西湖区", "滨江区", "余杭区", "上城区"]),
    ("江苏省", "南京市", ["鼓楼区", "玄武区", "江宁区"]),
    ("江苏省", "苏州市", ["工业园区", "姑苏区", "吴中区"]),
    ("四川省", "成都市", ["武侯区", "锦江区", "高新区", "双流区"]),
    ("湖北省", "武汉市", ["洪山区", "江汉区", "武昌区"]),
    ("湖南省", "长沙市", ["岳麓区", "芙蓉区", "雨花区"]),
    ("山东省", "青岛市", ["市南区", "崂山区", "黄岛区"]),
    ("河南省", "郑州市", ["金水区", "二七区"]),
    ("福建省", "厦门市", ["思明区", "湖里区"]),
    ("陕西省", "西安市", ["雁塔区", "碑林区"]),
    ("云南省", "大理白族自治州", ["大理市"]),
    ("河北省", "保定市", ["涞源县", "安新县", "竞秀区"]),
    ("安徽省", "合肥市", ["蜀山区", "肥西县"]),
    ("江西省", "赣州市", ["章贡区", "瑞金市", "兴国县"]),
]
CN_MUNI = [
    ("北京市", ["朝阳区", "海淀区", "东城区", "丰台区", "昌平区"]),
    ("上海市", ["浦东新区", "徐汇区", "静安区", "闵行区"]),
    ("天津市", ["南开区", "和平区", "滨海新区"]),
    ("重庆市", ["渝中区", "江北区", "巫山县"]),
]
CN_ROADS = [
    "建国路",
    "中山北路",
    "人民南路",
    "解放大道",
    "文三路",
    "科技园南路",
    "长安街",
    "淮海中路",
    "南京西路",
    "学院路",
    "中关村大街",
    "张杨路",
    "天府大道",
    "五一大道",
    "华强北路",
    "滨江大道",
    "望京街",
    "深南大道",
    "黄河路",
    "和平里东街",
    "光明街",
    "幸福路",
    "东风路",
    "新华街",
]
CN_COMPOUNDS = [
    "阳光花园",
    "碧桂园",
    "万科城",
    "翠苑三区",
    "紫荆小区",
    "金色家园",
    "保利香槟国际",
    "和谐家园",
    "世纪城",
    "幸福里",
]

# Cue words before a phone number, as people really write them.
PHONE_CUES_EN = [
    "phone",
    "Phone:",
    "tel",
    "Tel.",
    "call",
    "callback",
    "call back",
    "call-back #",
    "cb#",
    "reach me at",
    "reach her on",
    "mobile",
    "Mobile:",
    "mob.",
    "cell",
    "cell:",
    "cell #",
    "fax",
    "Fax:",
    "ph:",
    "ph.",
    "ph#",
    "text me at",
    "txt",
    "ring me on",
    "WhatsApp",
    "contact no.",
    "contact number",
    "best number is",
    "direct line",
    "dial",
    "home phone",
    "work phone",
    "c/b number",
    "ph no",
    "tel no.",
    "telephone",
    "Telephone number",
    "call me back at",
]
PHONE_CUES_ZH = [
    "电话",
    "电话：",
    "手机",
    "手机号",
    "手机号码：",
    "联系方式：",
    "联系电话",
    "来电",
    "来电号码",
    "回电",
    "座机",
    "号码是",
    "打这个号",
    "微信同号",
    "请拨打",
    "致电",
    "回拨",
    "传真",
    "备用电话",
]
PHONE_CUES_DE = ["Tel.:", "Telefon", "Handy", "Mobil:", "Rückruf unter", "erreichbar unter", "Fax:"]

# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _luhn_number(r: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return body + _luhn_digit(body)


def _luhn_ok(s: str) -> bool:
    return _luhn_digit(s[:-1]) == s[-1]


def _group(s: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(s[i : i + n])
        i += n
    if i < len(s):
        out.append(s[i:])
    return sep.join(p for p in out if p)


FW = str.maketrans("0123456789", "０１２３４５６７８９")


# --------------------------------------------------------------------------------------------
# slot generators: each returns (surface, entity_type | None, kind-for-decoys | None)
# --------------------------------------------------------------------------------------------

Slot = Callable[[random.Random], str]


def en_name(r: random.Random) -> str:
    first = r.choice(EN_FIRST_ACCENTED) if r.random() < 0.12 else r.choice(EN_FIRST)
    last = r.choice(EN_LAST_ODD) if r.random() < 0.18 else r.choice(EN_LAST)
    x = r.random()
    if x < 0.08:
        return f"{first} {r.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    if x < 0.12:
        return f"{first} {r.choice(EN_FIRST)} {last}"
    return f"{first} {last}"


def en_first(r: random.Random) -> str:
    return r.choice(EN_FIRST)


def en_lower(r: random.Random) -> str:
    if r.random() < 0.2:
        return r.choice(EN_FIRST).lower()
    return f"{r.choice(EN_FIRST)} {r.choice(EN_LAST + ['obrien', 'mcdonald'])}".lower()


def zh_name(r: random.Random) -> str:
    sur = r.choice(ZH_COMPOUND) if r.random() < 0.06 else r.choice(ZH_SURNAME)
    return sur + r.choice(ZH_GIVEN)


def pinyin_name(r: random.Random) -> str:
    sur = r.choice(
        [
            "Zhang",
            "Wang",
            "Li",
            "Liu",
            "Chen",
            "Yang",
            "Huang",
            "Zhao",
            "Wu",
            "Zhou",
            "Xu",
            "Sun",
            "Ma",
            "Zhu",
            "Hu",
            "Guo",
            "He",
            "Gao",
            "Lin",
            "Luo",
            "Zheng",
            "Liang",
            "Xie",
            "Song",
            "Tang",
            "Ouyang",
            "Cheung",
            "Wong",
            "Chan",
            "Leung",
            "Lau",
            "Ng",
            "Tsang",
        ]
    )
    given = r.choice(
        [
            "Wei",
            "Fang",
            "Na",
            "Xiuying",
            "Min",
            "Jing",
            "Qiang",
            "Lei",
            "Jun",
            "Yang",
            "Yong",
            "Jie",
            "Tao",
            "Ming",
            "Chao",
            "Xiaoming",
            "Jianguo",
            "Haiyan",
            "Zixuan",
            "Yuxuan",
            "Ka Wai",
            "Siu Ming",
            "Wing Yee",
            "Hoi Lam",
            "Tsz Kin",
        ]
    )
    first_en = r.choice(
        [
            "Kevin",
            "Tony",
            "Jason",
            "Vivian",
            "Cindy",
            "Eric",
            "Grace",
            "Amy",
            "Peter",
            "Leo",
            "Helen",
            "Frank",
            "Sunny",
            "Coco",
            "Alan",
            "Iris",
        ]
    )
    x = r.random()
    if x < 0.4:
        return f"{given} {sur}"
    if x < 0.7:
        return f"{sur} {given}"
    return f"{first_en} {sur}"


def nanp_any(r: random.Random) -> str:
    """North-American number with an area code and exchange of the right shape, assigned or not."""
    area = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
    while area[1:] == "11":
        area = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
    return _nanp_fmt(r, area)


def nanp_valid(r: random.Random) -> str:
    return _nanp_fmt(r, str(r.choice(NANP_VALID_AREAS)))


def _nanp_fmt(r: random.Random, area: str) -> str:
    ex = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
    while ex[1:] == "11" or ex == "555":
        ex = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
    sub = f"{r.randint(0, 9999):04d}"
    shape = r.choice(
        [
            "({a}) {e}-{s}",
            "{a}.{e}.{s}",
            "{a}-{e}-{s}",
            "+1 {a}-{e}-{s}",
            "1-{a}-{e}-{s}",
            "{a} {e} {s}",
            "+1 ({a}) {e} {s}",
            "({a}){e}-{s}",
            "+1{a}{e}{s}",
            "{a}{e}{s}",
            "+1.{a}.{e}.{s}",
            "1 ({a}) {e}-{s}",
            "{a}/{e}-{s}",
            "+1 {a} {e} {s}",
        ]
    )
    return shape.format(a=area, e=ex, s=sub)


def uk_phone(r: random.Random) -> str:
    x = r.random()
    if x < 0.3:
        return f"+44 20 7{r.randint(100, 999)} {r.randint(1000, 9999)}"
    if x < 0.5:
        return f"020 7{r.randint(100, 999)} {r.randint(1000, 9999)}"
    if x < 0.75:
        return f"07{r.choice(['700', '911', '817', '415', '534', '984'])} {r.randint(100000, 999999)}"
    if x < 0.9:
        return f"+44 7{r.choice(['700', '911', '817', '415'])} {r.randint(100000, 999999)}"
    return f"0161 {r.randint(200, 999)} {r.randint(1000, 9999)}"


def de_phone(r: random.Random) -> str:
    x = r.random()
    if x < 0.3:
        return f"+49 30 {r.randint(2000000, 99999999)}"
    if x < 0.5:
        return f"030 {r.randint(2000000, 99999999)}"
    if x < 0.75:
        return f"+49 1{r.choice(['51', '52', '60', '70', '76'])} {r.randint(1000000, 99999999)}"
    if x < 0.9:
        return f"01{r.choice(['51', '52', '60', '70', '76'])} {r.randint(1000000, 99999999)}"
    return f"089 / {r.randint(200000, 9999999)}"


def cn_mobile_digits(r: random.Random) -> str:
    return (
        r.choice(["13", "15", "17", "18", "19", "14", "16"])
        + str(r.randint(0, 9))
        + f"{r.randint(0, 99999999):08d}"
    )


def cn_mobile(r: random.Random) -> str:
    d = cn_mobile_digits(r)
    x = r.random()
    if x < 0.3:
        return d
    if x < 0.45:
        return _group(d, [3, 4, 4], " ")
    if x < 0.58:
        return _group(d, [3, 4, 4], "-")
    if x < 0.68:
        return "+86 " + _group(d, [3, 4, 4], " ")
    if x < 0.74:
        return "+86-" + d
    if x < 0.8:
        return "(+86)" + d
    if x < 0.85:
        return "0086 " + d
    if x < 0.9:
        return _group(d, [3, 3, 5], " ")
    if x < 0.95:
        return _group(d, [4, 3, 4], "-")
    return "86-" + d


def cn_mobile_odd(r: random.Random) -> str:
    d = cn_mobile_digits(r)
    x = r.random()
    if x < 0.35:
        return _group(d, [3, 4, 4], r.choice(["\u200b", "\u200d", "\u2060", "\u200c"]))
    if x < 0.7:
        return d.translate(FW)
    if x < 0.85:
        return _group(d, [3, 4, 4], " ").translate(FW)
    return _group(d, [3, 4, 4], "\u3000")


def email(r: random.Random) -> str:
    first = r.choice(EN_FIRST).lower()
    last = r.choice(EN_LAST).lower()
    dom = r.choice(
        [
            "gmail.com",
            "outlook.com",
            "yahoo.co.uk",
            "163.com",
            "qq.com",
            "126.com",
            "icloud.com",
            "proton.me",
            "acme-corp.com",
            "mail.example.org",
            "uni-heidelberg.de",
            "company.co.jp",
            "sina.cn",
            "foxmail.com",
            "hotmail.fr",
            "web.de",
            "t-online.de",
            "corp.contoso.com",
        ]
    )
    shape = r.choice(
        [
            "{f}.{l}",
            "{f}{l}",
            "{f}_{l}{n}",
            "{fi}{l}",
            "{f}.{l}+support",
            "{l}.{f}{n}",
            "{n9}",
            "{F}.{L}",
            "{f}-{l}",
            "{fi}.{l}{n}",
        ]
    )
    local = shape.format(
        f=first,
        l=last,
        fi=first[0],
        n=r.randint(1, 99),
        n9=r.randint(10000, 999999999),
        F=first.capitalize(),
        L=last.capitalize(),
    )
    return f"{local}@{dom}"


def card(r: random.Random) -> str:
    kind = r.choice(["visa", "visa", "mc", "mc2", "amex", "disc"])
    if kind == "amex":
        num = _luhn_number(r, r.choice(["34", "37"]), 15)
        return r.choice([num, _group(num, [4, 6, 5], " "), _group(num, [4, 6, 5], "-")])
    prefix = {"visa": "4", "mc": str(r.randint(51, 55)), "mc2": str(r.randint(2221, 2720)), "disc": "6011"}[
        kind
    ]
    num = _luhn_number(r, prefix, 16)
    return r.choice(
        [num, _group(num, [4, 4, 4, 4], " "), _group(num, [4, 4, 4, 4], "-"), _group(num, [4, 4, 4, 4], "  ")]
    )


def _iban(cc: str, bban: str) -> str:
    conv = "".join(str(int(c, 36)) for c in bban + cc + "00")
    check = 98 - int(conv) % 97
    return f"{cc}{check:02d}{bban}"


def iban(r: random.Random) -> str:
    cc = r.choice(["DE", "GB", "FR", "NL", "ES", "IT", "CH", "AT", "BE"])

    def digits(n: int) -> str:
        return "".join(str(r.randint(0, 9)) for _ in range(n))

    def letters(n: int) -> str:
        return "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))

    bban = {
        "DE": lambda: digits(18),
        "GB": lambda: letters(4) + digits(14),
        "FR": lambda: digits(23),
        "NL": lambda: letters(4) + digits(10),
        "ES": lambda: digits(20),
        "IT": lambda: letters(1) + digits(22),
        "CH": lambda: digits(17),
        "AT": lambda: digits(16),
        "BE": lambda: digits(12),
    }[cc]()
    s = _iban(cc, bban)
    if r.random() < 0.55:
        return " ".join(s[i : i + 4] for i in range(0, len(s), 4))
    return s


def ssn(r: random.Random) -> str:
    area = r.choice([x for x in range(1, 900) if x != 666])
    num = f"{area:03d}{r.randint(1, 99):02d}{r.randint(1, 9999):04d}"
    return r.choice([_group(num, [3, 2, 4], "-")] * 4 + [_group(num, [3, 2, 4], " "), num])


def ipv4(r: random.Random) -> str:
    x = r.random()
    if x < 0.2:
        return f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}"
    if x < 0.3:
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
    return (
        f"{r.choice([23, 31, 45, 66, 73, 81, 98, 104, 112, 139, 172, 185, 203, 211, 222])}."
        f"{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
    )


def ipv6(r: random.Random) -> str:
    groups = [f"{r.randint(0, 0xFFFF):x}" for _ in range(8)]
    if r.random() < 0.5:
        return "2001:db8:" + ":".join(groups[2:4]) + "::" + groups[7]
    return "2409:" + ":".join(groups[1:])


def cn_id(r: random.Random) -> str:
    area = r.choice(
        [
            "110101",
            "110105",
            "310104",
            "310115",
            "440305",
            "440106",
            "330106",
            "510107",
            "420111",
            "320102",
            "350203",
            "610113",
            "130603",
            "370212",
            "500103",
            "120101",
        ]
    )
    y, m, d = r.randint(1950, 2005), r.randint(1, 12), r.randint(1, 28)
    body = f"{area}{y:04d}{m:02d}{d:02d}{r.randint(0, 999):03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(a) * b for a, b in zip(body, w, strict=True)) % 11]
    s = body + check
    return s.lower() if check == "X" and r.random() < 0.3 else s


def cn_bank(r: random.Random) -> str:
    num = _luhn_number(
        r,
        r.choice(
            [
                "622202",
                "622848",
                "621700",
                "622588",
                "621483",
                "623668",
                "622262",
                "621226",
                "625807",
                "622609",
            ]
        ),
        r.choice([16, 19, 19]),
    )
    x = r.random()
    if x < 0.5:
        return num
    if x < 0.8:
        return _group(num, [4] * 5, " ")
    return _group(num, [6, 13], " ")


def addr_us(r: random.Random) -> str:
    city, st, zp = r.choice(US_CITIES)
    num = r.randint(1, 19999)
    d = r.choice(["", "", "", "N ", "S ", "E ", "W ", "NW "])
    street = r.choice(US_STREETS + [f"{r.randint(1, 120)}{r.choice(['st', 'nd', 'rd', 'th'])}"])
    unit = r.choice(
        [
            "",
            "",
            "",
            f", Apt {r.randint(1, 30)}{r.choice('ABCD')}",
            f" Suite {r.randint(100, 990)}",
            f" #{r.randint(1, 500)}",
            f", Unit {r.randint(1, 60)}",
        ]
    )
    zipc = f"{zp}{r.randint(0, 99):02d}" + (f"-{r.randint(1000, 9999)}" if r.random() < 0.15 else "")
    return f"{num} {d}{street} {r.choice(US_SUFFIX)}{unit}, {city}, {st} {zipc}"


def addr_uk(r: random.Random) -> str:
    town, pcs = r.choice(UK_TOWNS)
    flat = r.choice(["", "", f"Flat {r.randint(1, 40)}, ", f"Flat {r.randint(1, 9)}{r.choice('ABC')}, "])
    return f"{flat}{r.randint(1, 250)} {r.choice(UK_STREETS)} {r.choice(UK_SUFFIX)}, {town} {r.choice(pcs)}"


def addr_de(r: random.Random) -> str:
    plz, city = r.choice(DE_CITIES)
    num = f"{r.randint(1, 180)}{r.choice(['', '', '', 'a', 'b'])}"
    return f"{r.choice(DE_STREETS)} {num}, {plz} {city}"


def addr_cn(r: random.Random) -> str:
    if r.random() < 0.25:
        city, dists = r.choice(CN_MUNI)
        head = city + r.choice(dists)
    else:
        prov, city, dists = r.choice(CN_PLACES)
        head = (prov if r.random() < 0.7 else "") + city + r.choice(dists)
    road = r.choice(CN_ROADS) + f"{r.randint(1, 999)}号"
    x = r.random()
    if x < 0.35:
        tail = ""
    elif x < 0.7:
        tail = f"{r.choice(CN_COMPOUNDS)}{r.randint(1, 30)}栋{r.randint(1, 6)}单元{r.randint(1, 33)}0{r.randint(1, 8)}室"
    else:
        tail = f"{r.randint(1, 3)}号楼{r.randint(1, 28)}0{r.randint(1, 9)}室"
    if r.random() < 0.15:
        head = head + r.choice(["高新街道", "南湖街道", "城关镇", "西溪街道"])
    return head + road + tail


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def dob_en(r: random.Random) -> str:
    y, m, d = r.randint(1938, 2008), r.randint(1, 12), r.randint(1, 28)
    return r.choice(
        [
            f"{m:02d}/{d:02d}/{y}",
            f"{m}/{d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{d} {MONTHS[m - 1]} {y}",
            f"{MONTHS[m - 1][:3]} {d} {y}",
            f"{d:02d}-{MONTHS[m - 1][:3]}-{y}",
            f"{d:02d}/{m:02d}/{y}",
            f"{d}.{m}.{y}",
            f"{m:02d}-{d:02d}-{y}",
        ]
    )


def dob_zh(r: random.Random) -> str:
    y, m, d = r.randint(1938, 2008), r.randint(1, 12), r.randint(1, 28)
    return r.choice(
        [
            f"{y}年{m}月{d}日",
            f"{y}-{m:02d}-{d:02d}",
            f"{y}/{m}/{d}",
            f"{y}.{m:02d}.{d:02d}",
            f"{y}年{m:02d}月{d:02d}日",
            f"{y}年{m}月{d}号",
        ]
    )


def dob_de(r: random.Random) -> str:
    y, m, d = r.randint(1938, 2008), r.randint(1, 12), r.randint(1, 28)
    de_months = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ]
    return r.choice([f"{d:02d}.{m:02d}.{y}", f"{d}. {de_months[m - 1]} {y}", f"{d}.{m}.{y}"])


# ---- decoys ---------------------------------------------------------------------------------


def d_version(r: random.Random) -> str:
    return r.choice(
        [
            f"v{r.randint(1, 12)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
            f"{r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 40)}",
            f"10.0.{r.randint(17000, 22631)}.{r.randint(1000, 4000)}",
            f"{r.randint(100, 130)}.0.{r.randint(5000, 6999)}.{r.randint(10, 250)}",
            f"build {r.randint(20200101, 20261231)}",
            f"{r.randint(1, 5)}.{r.randint(0, 9)}.{r.randint(0, 9)}-rc{r.randint(1, 4)}",
        ]
    )


def d_date(r: random.Random) -> str:
    y, m, d = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    return r.choice(
        [
            f"{y}-{m:02d}-{d:02d}",
            f"{m}/{d}/{y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{y}年{m}月{d}日",
            f"{m}月{d}日",
            f"{y}/{m:02d}/{d:02d}",
        ]
    )


def d_time(r: random.Random) -> str:
    return r.choice(
        [
            f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
            f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
            f"{r.randint(1, 12)}:{r.randint(0, 59):02d} {r.choice(['AM', 'PM', 'pm'])}",
        ]
    )


def d_timestamp(r: random.Random) -> str:
    y, m, d = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    return r.choice(
        [
            str(r.randint(1_550_000_000, 1_790_000_000)),
            str(r.randint(1_550_000_000_000, 1_790_000_000_000)),
            f"{y}-{m:02d}-{d:02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
            f"{y}{m:02d}{d:02d}{r.randint(0, 23):02d}{r.randint(0, 59):02d}{r.randint(0, 59):02d}",
        ]
    )


def d_port(r: random.Random) -> str:
    return r.choice(
        [
            f"localhost:{r.choice([3000, 5432, 6379, 8080, 8443, 9200, 27017])}",
            f"port {r.randint(1024, 65535)}",
            f"0.0.0.0:{r.randint(1024, 65535)}",
            f"127.0.0.1:{r.randint(1024, 65535)}",
        ]
    )


def d_order10(r: random.Random) -> str:
    """10-digit order/account number: phone-shaped."""
    return f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}{r.randint(2, 9)}{r.randint(0, 999999):06d}"


def d_luhn14(r: random.Random) -> str:
    return _luhn_number(r, str(r.randint(2019, 2026)), 14)


def d_luhn16(r: random.Random) -> str:
    return _luhn_number(r, r.choice(["4", "5", "6"]), 16)


def d_amazon(r: random.Random) -> str:
    return f"{r.randint(100, 999)}-{r.randint(1000000, 9999999)}-{r.randint(1000000, 9999999)}"


def d_invoice(r: random.Random) -> str:
    return r.choice(
        [
            f"INV-{r.randint(2019, 2026)}-{r.randint(1, 99999):05d}",
            f"{r.randint(10000000, 99999999)}",
            f"F{r.randint(100000, 999999)}",
            f"INV{r.randint(1000000000, 9999999999)}",
        ]
    )


def d_ticket(r: random.Random) -> str:
    return r.choice(
        [
            f"#{r.randint(100000, 9999999)}",
            f"INC{r.randint(1000000, 9999999)}",
            f"CS-{r.randint(10000, 99999)}",
            f"{r.randint(2020, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999999):06d}",
            f"JIRA-{r.randint(100, 9999)}",
        ]
    )


def d_tracking(r: random.Random) -> str:
    return r.choice(
        [
            f"1Z{''.join(r.choice('0123456789ABCDEFGHJKLMNPRSTVWXYZ') for _ in range(6))}{r.randint(10000000, 99999999)}",
            " ".join(f"{r.randint(0, 9999):04d}" for _ in range(5)) + f" {r.randint(10, 99)}",
            str(r.randint(100000000000, 999999999999)),
            _luhn_number(r, "9", 16),
            f"{r.randint(100000000000000, 999999999999999)}",
        ]
    )


def d_waybill(r: random.Random) -> str:
    return r.choice(
        [
            f"SF{r.randint(1000000000000, 9999999999999)}",
            f"YT{r.randint(1000000000000, 9999999999999)}",
            f"JD{r.randint(10000000000000, 99999999999999)}",
            str(r.randint(70000000000000, 79999999999999)),
            str(r.randint(1000000000000, 9999999999999)),
            _luhn_number(r, "7", 15),
        ]
    )


def d_serial(r: random.Random) -> str:
    return r.choice(
        [
            "".join(r.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(12)),
            f"{r.randint(10**14, 10**15 - 1)}",  # IMEI-ish
            f"{r.randint(0, 0xFFFFFFFF):08x}-{r.randint(0, 0xFFFF):04x}-4{r.randint(0, 0xFFF):03x}-a{r.randint(0, 0xFFF):03x}-{r.randint(0, 0xFFFFFFFFFFFF):012x}",
            f"{r.randint(0, 16**40 - 1):040x}"[: r.choice([7, 12, 40])],
        ]
    )


def d_amount(r: random.Random) -> str:
    return r.choice(
        [
            f"¥{r.randint(10, 99999):,}.{r.randint(0, 99):02d}",
            f"${r.randint(1, 9999):,}.{r.randint(0, 99):02d}",
            f"{r.randint(1, 99999)}元",
            f"€{r.randint(1, 999)},{r.randint(0, 99):02d}",
            f"{r.randint(1000, 99999999):,}",
        ]
    )


def d_zhword(r: random.Random) -> str:
    return r.choice(ZH_NAME_TRAPS)


def d_errcode(r: random.Random) -> str:
    return r.choice(
        [
            f"0x{r.randint(0, 0xFFFFFFFF):08X}",
            f"E{r.randint(1000, 9999)}",
            f"HTTP {r.choice([400, 401, 403, 404, 500, 502, 503])}",
            f"ERR_{r.randint(100, 999)}",
            f"-{r.randint(1000, 99999)}",
        ]
    )


SLOTS: dict[str, tuple[Slot, str | None, str]] = {
    # name: (generator, entity_type (None = decoy), tag or decoy kind)
    "NAME_EN": (en_name, "PERSON", "en_cased"),
    "NAME_EN2": (en_name, "PERSON", "en_cased"),
    "FIRST_EN": (en_first, "PERSON", "en_first"),
    "NAME_EN_LOWER": (en_lower, "PERSON", "en_lower"),
    "NAME_ZH_CUE": (zh_name, "PERSON", "zh_cue"),
    "NAME_ZH_BARE": (zh_name, "PERSON", "zh_bare"),
    "NAME_ZH_BARE2": (zh_name, "PERSON", "zh_bare"),
    "NAME_MIX_EN": (en_name, "PERSON", "mixed_en_in_zh"),
    "NAME_MIX_PY": (pinyin_name, "PERSON", "mixed_pinyin"),
    "NAME_MIX_ZH": (zh_name, "PERSON", "mixed_zh_in_en"),
    "PHONE_CUE": (nanp_any, "PHONE_NUMBER", "nanp_cue"),
    "PHONE_VALID": (nanp_valid, "PHONE_NUMBER", "nanp_nocue"),
    "PHONE_UK": (uk_phone, "PHONE_NUMBER", "uk"),
    "PHONE_DE": (de_phone, "PHONE_NUMBER", "de"),
    "CN_MOBILE": (cn_mobile, "CN_MOBILE", "cn_mobile"),
    "CN_MOBILE_ODD": (cn_mobile_odd, "CN_MOBILE", "cn_mobile_odd"),
    "EMAIL": (email, "EMAIL_ADDRESS", "email"),
    "CARD": (card, "CREDIT_CARD", "card"),
    "IBAN": (iban, "IBAN_CODE", "iban"),
    "SSN": (ssn, "US_SSN", "ssn"),
    "IPV4": (ipv4, "IP_ADDRESS", "ipv4"),
    "IPV6": (ipv6, "IP_ADDRESS", "ipv6"),
    "CN_ID": (cn_id, "CN_RESIDENT_ID", "cn_id"),
    "CN_BANK": (cn_bank, "CN_BANK_CARD", "cn_bank"),
    "ADDR_US": (addr_us, "ADDRESS", "us"),
    "ADDR_UK": (addr_uk, "ADDRESS", "uk"),
    "ADDR_DE": (addr_de, "ADDRESS", "de"),
    "ADDR_CN": (addr_cn, "ADDRESS", "cn"),
    "DOB_EN": (dob_en, "DATE_OF_BIRTH", "en"),
    "DOB_ZH": (dob_zh, "DATE_OF_BIRTH", "zh"),
    "DOB_DE": (dob_de, "DATE_OF_BIRTH", "de"),
    # decoys
    "D_VERSION": (d_version, None, "version"),
    "D_DATE": (d_date, None, "date"),
    "D_TIME": (d_time, None, "time"),
    "D_TS": (d_timestamp, None, "timestamp"),
    "D_PORT": (d_port, None, "port"),
    "D_ORDER10": (d_order10, None, "order"),
    "D_LUHN14": (d_luhn14, None, "order_luhn14"),
    "D_LUHN16": (d_luhn16, None, "order_luhn16"),
    "D_AMAZON": (d_amazon, None, "order"),
    "D_INVOICE": (d_invoice, None, "invoice"),
    "D_TICKET": (d_ticket, None, "ticket"),
    "D_TRACKING": (d_tracking, None, "tracking"),
    "D_WAYBILL": (d_waybill, None, "waybill"),
    "D_SERIAL": (d_serial, None, "serial"),
    "D_AMOUNT": (d_amount, None, "amount"),
    "D_ZHWORD": (d_zhword, None, "zh_word"),
    "D_ERR": (d_errcode, None, "error_code"),
}

# --------------------------------------------------------------------------------------------
# templates: (lang, text). {SLOT} is filled; {cue_en}/{cue_zh}/{cue_de} picks a phone cue word.
# --------------------------------------------------------------------------------------------

T: dict[str, list[tuple[str, str]]] = {}

T["phone_cue"] = [
    ("en", "Customer asked for a {cue_en} {PHONE_CUE} after 5pm, re: ticket {D_TICKET}."),
    ("en", "Hi, my internet has been down since {D_DATE}. {cue_en} {PHONE_CUE} anytime."),
    ("en", "CALLER: yeah you can {cue_en} {PHONE_CUE}, that's my wife's actually"),
    ("en", "Left VM. Cust wants {cue_en} {PHONE_CUE} before {D_TIME}."),
    ("en", "Please update my contact details — new {cue_en} {PHONE_CUE} (old one is disconnected)."),
    ("en", "[{D_TIME}] agent_42: what's the best way to reach you?\n[{D_TIME}] guest: {cue_en} {PHONE_CUE}"),
    ("en", "Signature:\n{NAME_EN}\nAccount Manager\n{cue_en} {PHONE_CUE}\n{EMAIL}"),
    ("en", "Order {D_AMAZON} arrived damaged. {cue_en} {PHONE_CUE} if you need photos."),
    ("en", "caller id showed {PHONE_CUE}, he said call him back on that number"),
    ("en", "You can reach me at {PHONE_CUE} or by email."),
    ("en", "Emergency contact: {NAME_EN}, {cue_en} {PHONE_CUE}"),
    ("en", "Transcript 00:03:12 — Sure, the number is {PHONE_CUE}, that's {cue_en}."),
    ("zh", "客户来电，{cue_zh}{PHONE_CUE}，说是美国的号码，要求英文回复。"),
    ("de", "Bitte um Rückruf, {cue_de} {PHONE_CUE} (USA)."),
    ("en", "{cue_en}: {PHONE_CUE} | ext. 204"),
    ("en", "pls {cue_en} {PHONE_CUE} asap!! waited 3 days already, case {D_TICKET}"),
]
T["phone_nocue"] = [
    ("en", "{NAME_EN} — {PHONE_VALID} — prefers afternoons"),
    ("en", "Updated CRM record: {NAME_EN}, {PHONE_VALID}, {EMAIL}"),
    ("en", "From the web form: name={NAME_EN}; {PHONE_VALID}; message=refund request"),
    ("en", "Shipping label: {NAME_EN}\n{ADDR_US}\n{PHONE_VALID}"),
    ("en", "Got a voicemail from {PHONE_VALID} at {D_TIME} but no message."),
    ("en", "{PHONE_VALID} keeps calling the store and hanging up, can we block it?"),
]
T["phone_intl"] = [
    ("en", "UK customer, {cue_en} {PHONE_UK}, wants delivery before Friday."),
    ("en", "My {cue_en} is {PHONE_UK} — I'm in Manchester so please mind the time difference."),
    ("de", "Kunde bittet um Rückruf: {cue_de} {PHONE_DE}, am besten vormittags."),
    ("de", "Mit freundlichen Grüßen\n{NAME_EN}\n{cue_de} {PHONE_DE}"),
    ("en", "Spoke to the Berlin office ({cue_en} {PHONE_DE}) about invoice {D_INVOICE}."),
    ("en", "{NAME_EN} ({PHONE_UK}) says the parcel was left outside."),
    ("zh", "德国客户{cue_zh}{PHONE_DE}，请用英文联系。"),
]
T["cn_mobile"] = [
    ("zh", "您好，我的{cue_zh}{CN_MOBILE}，快递到了请提前联系。"),
    ("zh", "收件人：{NAME_ZH_CUE}，{CN_MOBILE}，{ADDR_CN}"),
    ("zh", "麻烦尽快回电 {CN_MOBILE}，订单号{D_LUHN14}一直没发货。"),
    ("zh", "{NAME_ZH_BARE} {CN_MOBILE} 要求退款，金额{D_AMOUNT}。"),
    ("zh", "用户反馈：打了好几次客服都没人接，我电话是{CN_MOBILE}，微信同号。"),
    ("zh", "[{D_TIME}] 客服小美：请问怎么称呼？\n[{D_TIME}] 用户：{NAME_ZH_BARE}，手机{CN_MOBILE}"),
    ("mix", "Customer in Shenzhen, mobile {CN_MOBILE}, speaks English."),
    ("zh", "新号码{CN_MOBILE}，旧号码停机了"),
    ("zh", "有事直接打我{CN_MOBILE}就行"),
    ("zh", "联系人：{NAME_ZH_CUE}（{CN_MOBILE}）"),
    ("zh", "骑手说打{CN_MOBILE}没人接，地址写的是{ADDR_CN}"),
    ("mix", "WeChat/手机: {CN_MOBILE}"),
]
T["cn_mobile_odd"] = [
    ("zh", "我的手机号是{CN_MOBILE_ODD}，谢谢"),
    ("zh", "电话{CN_MOBILE_ODD}（请在工作日联系）"),
    ("zh", "{CN_MOBILE_ODD} 这个号码是我本人的"),
    ("mix", "call me: {CN_MOBILE_ODD}"),
    ("zh", "复制过来的号码：{CN_MOBILE_ODD}，工单{D_TICKET}"),
]
T["email"] = [
    ("en", "From: {NAME_EN} <{EMAIL}>\nSubject: Re: Order {D_AMAZON}\n\nStill waiting on my refund."),
    ("en", "please send the invoice to {EMAIL} not my old address"),
    ("en", "Customer email on file ({EMAIL}) bounces, asked for an alternative."),
    ("zh", "我的邮箱是{EMAIL}，发票请发到这个邮箱。"),
    ("zh", "回复邮件到{EMAIL}即可，谢谢！"),
    ("en", "mailto:{EMAIL}?subject=Ticket%20{D_TICKET}"),
    ("en", "cc {EMAIL}; {EMAIL}"),
    ("de", "Bitte an {EMAIL} schicken, danke."),
    ("en", "Login fails for user {EMAIL} since version {D_VERSION}."),
]
T["card"] = [
    ("en", "I was charged twice on my card {CARD}, order {D_AMAZON}."),
    ("en", "Payment details: {CARD} exp 09/28"),
    ("en", "visa {CARD} — please refund to this one"),
    ("en", "The customer read out the card number {CARD} on the call (agent should not have typed it)."),
    ("zh", "信用卡号{CARD}，有效期到明年，帮我取消自动续费。"),
    ("en", "card: {CARD}"),
    ("en", "She paid with {CARD} but the transaction shows pending."),
    ("en", "CC# {CARD} declined at {D_TIME}"),
]
T["iban"] = [
    ("en", "Please refund to IBAN {IBAN}, account holder {NAME_EN}."),
    ("de", "Bitte überweisen Sie den Betrag auf {IBAN} (Kontoinhaber: {NAME_EN})."),
    ("en", "bank details: {IBAN}"),
    ("en", "Direct debit mandate updated, new account {IBAN}."),
    ("zh", "退款请打到这个欧洲账户：{IBAN}"),
    ("en", "{IBAN} is the account we have on file for invoice {D_INVOICE}."),
]
T["ssn"] = [
    ("en", "For the background check I need your SSN: {SSN}"),
    ("en", "Social security no. {SSN}, DOB on file"),
    ("en", "applicant ssn {SSN} did not match the records"),
    ("en", "my social is {SSN}"),
    ("en", "SSN (last verified {D_DATE}): {SSN}"),
    ("en", "Tax form W-9: TIN/SSN {SSN}"),
]
T["ip"] = [
    ("en", "Login from unusual IP {IPV4} at {D_TIME}, account locked."),
    ("en", "X-Forwarded-For: {IPV4}, client port {D_PORT}"),
    ("en", "User says VPN assigns {IPV4}; app {D_VERSION} crashes on connect."),
    ("zh", "客户IP：{IPV4}，登录时间{D_TS}"),
    ("en", "blocked {IPV6} after 50 failed logins"),
    ("en", "Source address {IPV6} (IPv6) hit the rate limit."),
    ("en", "ping {IPV4} returns timeout from our side"),
]
T["cn_id"] = [
    ("zh", "身份证号{CN_ID}，请核实实名信息。"),
    ("zh", "订单号{D_LUHN14}的客户{NAME_ZH_CUE}身份证号为{CN_ID}"),
    ("zh", "证件号码：{CN_ID}"),
    ("zh", "我身份证{CN_ID}，帮我查一下保单"),
    ("zh", "患者{NAME_ZH_CUE}，{CN_ID}，于{D_DATE}入院"),
    ("mix", "ID card: {CN_ID} (PRC)"),
    ("zh", "{NAME_ZH_BARE}的身份证是{CN_ID}对吧？"),
]
T["cn_bank"] = [
    ("zh", "退款请打到我的银行卡{CN_BANK}，开户行是招商银行。"),
    ("zh", "卡号：{CN_BANK}（工商银行）"),
    ("zh", "我的储蓄卡{CN_BANK}被冻结了"),
    ("zh", "收款账号{CN_BANK}，户名{NAME_ZH_CUE}"),
    ("zh", "转账到{CN_BANK}就行"),
]
T["en_name"] = [
    ("en", "Hi, I'm {NAME_EN} and I can't log in since the update to {D_VERSION}."),
    ("en", "Customer {NAME_EN} called about a missing package, tracking {D_TRACKING}."),
    ("en", "Spoke with {NAME_EN} re: refund, promised callback tomorrow."),
    ("en", "Thanks,\n{NAME_EN}"),
    ("en", "Dear {NAME_EN},\n\nThank you for contacting support."),
    ("en", "{NAME_EN} wrote:\n> is there any update on this?"),
    ("en", "Agent: Am I speaking with {NAME_EN}?\nCaller: Yes, speaking."),
    ("en", "Ticket reassigned from {NAME_EN} to {NAME_EN2}."),
    ("en", "Per {NAME_EN}'s request, we've closed the account."),
    ("en", "cc: {NAME_EN}; {NAME_EN2}"),
    ("en", "{NAME_EN} (account owner) authorised {NAME_EN2} to make changes."),
    ("en", "Escalated to {NAME_EN}, she's the team lead on nights."),
    ("en", "Best regards, {NAME_EN} | Customer Success"),
    ("en", "the package was signed for by {NAME_EN} at the front desk"),
    ("en", "Note from {FIRST_EN}: customer was very upset, offered 10% off."),
    ("en", "Meeting notes — attendees: {NAME_EN}, {NAME_EN2}, and me."),
    ("en", "Please make the check payable to {NAME_EN}."),
    ("en", "Hello {FIRST_EN}, your order {D_AMAZON} has shipped!"),
    ("en", "Patient {NAME_EN} was seen on {D_DATE} for follow-up."),
    ("en", "RE: complaint filed by {NAME_EN} on {D_DATE}"),
]
T["en_lower"] = [
    ("en", "hi my name is {NAME_EN_LOWER} and i need help with my account"),
    ("en", "this is {NAME_EN_LOWER}, i called yesterday about the refund"),
    ("en", "name: {NAME_EN_LOWER}"),
    ("en", "im {NAME_EN_LOWER} and my order never came"),
    ("en", "i'm {NAME_EN_LOWER}, the account holder"),
    ("en", "hey its {NAME_EN_LOWER} again lol, still broken"),
    ("en", "customer name {NAME_EN_LOWER}, no email on file"),
    ("en", "my name's {NAME_EN_LOWER}"),
    ("en", "full name - {NAME_EN_LOWER}"),
    ("en", "you can call me {NAME_EN_LOWER}"),
    ("en", "signed: {NAME_EN_LOWER}"),
    ("en", "the name on the account is {NAME_EN_LOWER}"),
]
T["zh_cue"] = [
    ("zh", "客户{NAME_ZH_CUE}反映收到的商品有破损。"),
    ("zh", "用户{NAME_ZH_CUE}申请注销账号。"),
    ("zh", "患者{NAME_ZH_CUE}，男，今日复诊。"),
    ("zh", "收件人：{NAME_ZH_CUE}"),
    ("zh", "经办人：{NAME_ZH_CUE}，审核通过。"),
    ("zh", "联系人{NAME_ZH_CUE}说周末不在家。"),
    ("zh", "持卡人{NAME_ZH_CUE}本人来电挂失。"),
    ("zh", "姓名：{NAME_ZH_CUE}\n性别：女"),
    ("zh", "业主{NAME_ZH_CUE}投诉楼上漏水。"),
    ("zh", "乘客{NAME_ZH_CUE}的行李在转机时丢失。"),
    ("zh", "学员{NAME_ZH_CUE}请假两天。"),
    ("zh", "寄件人{NAME_ZH_CUE}要求改地址。"),
    ("zh", "申请人：{NAME_ZH_CUE}，申请日期{D_DATE}"),
    ("zh", "投保人{NAME_ZH_CUE}，被保险人{NAME_ZH_CUE}"),
    ("zh", "负责人{NAME_ZH_CUE}已经确认。"),
    ("zh", "客服专员{NAME_ZH_CUE}为您服务。"),
    ("zh", "家属{NAME_ZH_CUE}陪同就诊。"),
    ("zh", "下单人：{NAME_ZH_CUE}"),
    ("zh", "我叫{NAME_ZH_CUE}，上周买的冰箱不制冷。"),
    ("zh", "本人{NAME_ZH_CUE}，现申请退货。"),
]
T["zh_bare"] = [
    ("zh", "请帮我给{NAME_ZH_BARE}写一封邮件，说明发货延迟的原因。"),
    ("zh", "你和{NAME_ZH_BARE}联系一下，确认收货地址。"),
    ("zh", "{NAME_ZH_BARE}说他明天下午再打过来。"),
    ("zh", "昨天{NAME_ZH_BARE}来店里退了一件衣服。"),
    ("zh", "麻烦转告{NAME_ZH_BARE}，发票已经开好了。"),
    ("zh", "{NAME_ZH_BARE}的快递到了吗？"),
    ("zh", "这个问题已经转给{NAME_ZH_BARE}处理了。"),
    ("zh", "感谢{NAME_ZH_BARE}的耐心解答！"),
    ("zh", "{NAME_ZH_BARE}：您好，您的退款已原路返回。"),
    ("zh", "@{NAME_ZH_BARE} 看一下这个工单 {D_TICKET}"),
    ("zh", "已跟{NAME_ZH_BARE}确认过，可以换货。"),
    ("zh", "由{NAME_ZH_BARE}签收，{D_DATE}"),
    ("zh", "今天值班的是{NAME_ZH_BARE}和{NAME_ZH_BARE2}。"),
    ("zh", "请{NAME_ZH_BARE}明天上午十点前回复。"),
    ("zh", "抄送{NAME_ZH_BARE}、{NAME_ZH_BARE2}"),
    ("zh", "订单{D_LUHN14}是{NAME_ZH_BARE}下的，{D_ZHWORD}方面没问题。"),
    ("zh", "我是{NAME_ZH_BARE}，上周买的洗衣机漏水。"),
    ("zh", "刚才{NAME_ZH_BARE}在群里问退款进度。"),
    ("zh", "找{NAME_ZH_BARE}拿一下合同。"),
    ("zh", "{NAME_ZH_BARE}老师，您好！附件是课程安排。"),
    ("zh", "{NAME_ZH_BARE}反馈App在{D_VERSION}版本闪退。"),
    ("zh", "这单是{NAME_ZH_BARE}帮忙处理的，{D_ZHWORD}的事情她也清楚。"),
    ("zh", "代{NAME_ZH_BARE}转达：周末不方便收货。"),
    ("zh", "{NAME_ZH_BARE}和{NAME_ZH_BARE2}都在会议室。"),
]
T["mixed"] = [
    ("mix", "客户{NAME_MIX_EN}反馈app在iOS {D_VERSION}上闪退。"),
    ("mix", "今天和{NAME_MIX_EN}开会，他说下周上线。"),
    ("mix", "Please cc {NAME_MIX_ZH} on this thread."),
    ("mix", "{NAME_MIX_ZH} from the Shanghai office will follow up tomorrow."),
    ("mix", "Hi {NAME_MIX_ZH}，附件是报价单，请查收。"),
    ("mix", "我们的PM {NAME_MIX_EN}已经approve了。"),
    ("mix", "请联系{NAME_MIX_PY}，他负责APAC区域。"),
    ("mix", "{NAME_MIX_PY}说这个bug在staging环境复现不了。"),
    ("mix", "Escalate给{NAME_MIX_EN}，ticket {D_TICKET}"),
    ("mix", "The customer, {NAME_MIX_ZH}, asked for a 发票."),
    ("mix", "客户 {NAME_MIX_PY} 的订单还没发货"),
    ("mix", "Thanks {NAME_MIX_ZH}！已经收到了。"),
    ("mix", "跟{NAME_MIX_PY} sync 了一下，没问题"),
]
T["address"] = [
    ("en", "Ship to: {NAME_EN}, {ADDR_US}"),
    ("en", "Please update my billing address to {ADDR_US}."),
    ("en", "I moved! New address is {ADDR_US}"),
    ("en", "Package was delivered to {ADDR_US} but I live at the one next door."),
    ("en", "Customer lives at {ADDR_US}; return label emailed."),
    ("en", "Deliver to {ADDR_UK}, leave with neighbour if out."),
    ("en", "My address: {ADDR_UK}"),
    ("en", "Registered office: {ADDR_UK}"),
    ("en", "correct address is {ADDR_UK} not the old one"),
    ("de", "Lieferadresse: {ADDR_DE}"),
    ("de", "Bitte schicken Sie die Rechnung an {ADDR_DE}."),
    ("de", "Ich bin umgezogen, neue Anschrift: {ADDR_DE}"),
    ("en", "Customer address (Germany): {ADDR_DE}"),
    ("zh", "收货地址：{ADDR_CN}"),
    ("zh", "麻烦寄到{ADDR_CN}，谢谢。"),
    ("zh", "家庭住址{ADDR_CN}，联系人{NAME_ZH_CUE}"),
    ("zh", "我住在{ADDR_CN}，快递一直送错。"),
    ("zh", "地址改成{ADDR_CN}"),
    ("zh", "发票邮寄地址：{ADDR_CN}，收件人{NAME_ZH_CUE}"),
    ("mix", "Please ship to {ADDR_CN}, recipient {NAME_MIX_PY}."),
    ("zh", "送到{ADDR_CN}，放门口就行"),
]
T["dob"] = [
    ("en", "DOB: {DOB_EN}"),
    ("en", "Patient {NAME_EN}, date of birth {DOB_EN}, allergic to penicillin."),
    ("en", "For verification, my birthday is {DOB_EN}."),
    ("en", "born {DOB_EN} in Ohio, if that helps"),
    ("en", "D.O.B. {DOB_EN} | member since {D_DATE}"),
    ("en", "Birthdate: {DOB_EN}"),
    ("en", "caller confirmed dob {DOB_EN} and last four of SSN"),
    ("en", "I was born on {DOB_EN}"),
    ("en", "(DOB {DOB_EN})"),
    ("en", "date of birth: {DOB_EN}, appointment {D_DATE} at {D_TIME}"),
    ("zh", "出生日期：{DOB_ZH}"),
    ("zh", "我生日是{DOB_ZH}，帮我核实一下身份。"),
    ("zh", "患者{NAME_ZH_CUE}，出生于{DOB_ZH}，今日就诊。"),
    ("zh", "出生年月日{DOB_ZH}，身份证丢了"),
    ("zh", "生日：{DOB_ZH}"),
    ("zh", "{DOB_ZH}出生的，今年刚退休"),
    ("de", "Geburtsdatum: {DOB_DE}"),
    ("de", "geb. {DOB_DE}, wohnhaft in Berlin"),
    ("de", "Ich bin am {DOB_DE} geboren."),
]
T["decoy"] = [
    ("zh", "订单号{D_LUHN14}，请尽快发货。"),
    ("zh", "订单号：{D_LUHN14}，物流显示已签收但我没收到。"),
    ("zh", "您的订单{D_LUHN14}已发货，运单号{D_WAYBILL}。"),
    ("zh", "运单号{D_WAYBILL}一直显示在途。"),
    ("zh", "快递单号：{D_WAYBILL}"),
    ("zh", "工单{D_TICKET}已关闭，处理时间{D_TIME}。"),
    ("zh", "单号{D_LUHN14}的退款已到账，金额{D_AMOUNT}"),
    ("en", "Order no. {D_LUHN16} shipped on {D_DATE}."),
    ("en", "Invoice #{D_INVOICE} is overdue, amount due {D_AMOUNT}."),
    ("en", "Invoice {D_LUHN16}, due {D_DATE}"),
    ("en", "Tracking number {D_LUHN16} shows delivered."),
    ("en", "tracking: {D_TRACKING}"),
    ("en", "waybill {D_WAYBILL} stuck in customs"),
    ("en", "Order #{D_ORDER10} - status: processing"),
    ("en", "Order {D_AMAZON} was cancelled at {D_TIME}."),
    ("en", "Order ID {D_ORDER10} (see attached receipt)"),
    ("en", "Upgraded to {D_VERSION} on {D_DATE}, still broken."),
    ("en", "Server listening on {D_PORT}"),
    ("en", "[{D_TS}] ERROR worker exited with {D_ERR}"),
    ("en", "Log line: ts={D_TS} level=warn msg=retry"),
    ("en", "The meeting is at {D_TIME} on {D_DATE}."),
    ("en", "Serial number {D_SERIAL}, purchased {D_DATE}"),
    ("en", "commit {D_SERIAL} fixed the crash in {D_VERSION}"),
    ("en", "Refund of {D_AMOUNT} issued on {D_DATE}."),
    ("en", "Error {D_ERR} when opening the app (build {D_TS})"),
    ("zh", "{D_ZHWORD}的问题已经解决了，{D_DATE}会再回访。"),
    ("zh", "周末{D_ZHWORD}有点多，我们{D_TIME}再说。"),
    ("zh", "客服已经处理，{D_ZHWORD}方面请放心。"),
    ("zh", "这个{D_ZHWORD}我们会在{D_DATE}之前给您答复。"),
    ("zh", "版本号{D_VERSION}，{D_DATE}发布"),
    ("zh", "请于{D_DATE} {D_TIME}前付款，发票号{D_INVOICE}"),
    ("en", "Customer ID {D_ORDER10}, plan renewed {D_DATE}"),
    ("en", "Ticket {D_TICKET}: printer offline since {D_TIME}"),
    ("zh", "工单号：{D_TICKET}，客户反馈{D_ZHWORD}"),
    ("en", "IMEI {D_SERIAL} blacklisted?"),
    ("en", "Reference: {D_LUHN14} (order)"),
]
T["crm"] = [
    (
        "en",
        "CRM note {D_DATE}: {NAME_EN} ({EMAIL}) called from {PHONE_VALID}. Lives at {ADDR_US}. DOB {DOB_EN}. "
        "Wants refund for order {D_AMAZON}; card on file {CARD}.",
    ),
    (
        "zh",
        "工单{D_TICKET}：客户{NAME_ZH_CUE}，手机{CN_MOBILE}，身份证{CN_ID}，地址{ADDR_CN}。"
        "订单号{D_LUHN14}，要求{D_DATE}前处理。",
    ),
    (
        "mix",
        "Case {D_TICKET} — {NAME_MIX_PY}（{CN_MOBILE}，{EMAIL}）反馈在 {D_VERSION} 上无法支付，卡号{CN_BANK}。",
    ),
    (
        "en",
        "Chat transcript\n[{D_TIME}] Visitor: hi, im {NAME_EN_LOWER}\n[{D_TIME}] Agent: Hi! How can I help?\n"
        "[{D_TIME}] Visitor: my phone is {PHONE_CUE} and my email is {EMAIL}, born {DOB_EN}",
    ),
    ("de", "Kundin {NAME_EN}, {ADDR_DE}, {cue_de} {PHONE_DE}, IBAN {IBAN}, Rechnung {D_INVOICE}."),
    ("en", "Call summary: spoke with {NAME_EN}, SSN {SSN}, address {ADDR_UK}, {cue_en} {PHONE_UK}."),
]

# How many records of each category.
COUNTS = {
    "phone_cue": 320,
    "phone_nocue": 120,
    "phone_intl": 140,
    "cn_mobile": 220,
    "cn_mobile_odd": 120,
    "email": 160,
    "card": 180,
    "iban": 130,
    "ssn": 130,
    "ip": 160,
    "cn_id": 140,
    "cn_bank": 130,
    "en_name": 260,
    "en_lower": 150,
    "zh_cue": 200,
    "zh_bare": 300,
    "mixed": 200,
    "address": 400,
    "dob": 300,
    "decoy": 500,
    "crm": 80,
}

_SLOT_RE = re.compile(r"\{(\w+)\}")


def _render(
    r: random.Random, template: str, slots: dict[str, tuple[Slot, str | None, str]]
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    out: list[str] = []
    pos = 0
    spans: list[dict[str, Any]] = []
    decoys: list[dict[str, Any]] = []
    last = 0
    for m in _SLOT_RE.finditer(template):
        lit = template[last : m.start()]
        out.append(lit)
        pos += len(lit)
        last = m.end()
        name = m.group(1)
        if name.startswith("cue_"):
            pool = {"cue_en": PHONE_CUES_EN, "cue_zh": PHONE_CUES_ZH, "cue_de": PHONE_CUES_DE}[name]
            val = r.choice(pool)
            out.append(val)
            pos += len(val)
            continue
        gen, entity, tag = slots[name]
        val = gen(r)
        if entity is None and tag in ("order_luhn14", "order_luhn16"):
            assert _luhn_ok(val)
        out.append(val)
        item = {"start": pos, "end": pos + len(val)}
        if entity is None:
            decoys.append({**item, "kind": tag})
        else:
            spans.append({**item, "entity_type": entity, "tag": tag})
        pos += len(val)
    out.append(template[last:])
    return "".join(out), spans, decoys


def generate(
    seed: int = HELDOUT_SEED,
    counts: dict[str, int] | None = None,
    templates: dict[str, list[tuple[str, str]]] | None = None,
    prefix: str = "ho",
    slots: dict[str, tuple[Slot, str | None, str]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Deterministic records; ``counts`` scales categories (tests use small counts)."""
    r = random.Random(seed)
    tpl = templates or T
    n = 0
    for cat, k in (counts or COUNTS).items():
        for _ in range(k):
            lang, template = r.choice(tpl[cat])
            text, spans, decoys = _render(r, template, slots or SLOTS)
            n += 1
            yield {
                "id": f"{prefix}-{n:05d}",
                "category": cat,
                "lang": lang,
                "text": text,
                "spans": spans,
                "decoys": decoys,
            }


def write_jsonl(path: str, seed: int = HELDOUT_SEED) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for rec in generate(seed):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(write_jsonl(sys.argv[1] if len(sys.argv) > 1 else "heldout.jsonl"))
