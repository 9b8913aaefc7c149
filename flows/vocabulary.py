"""The words of questions: which carry no topic, which little, which mean the same, and how
people phrase a fault on a phone (开不了机, 打不出来 → 坏了).

The lists are general campus and everyday Chinese, never a particular sentence: a word here
must help any question that uses it. Flow files add their own words (`aliases`, `keywords`).
"""

from __future__ import annotations

import re

#: words of the question that carry no topic (weight 0) or little (weight 0.5)
STOP_WORDS = frozenset((
    "我", "我们", "咱们", "你", "您", "你们", "他", "她", "它", "要", "想", "想要", "需要", "需",
    "要求", "怎么", "怎样", "怎么样", "如何", "咋", "咋办", "怎么办", "怎么弄", "怎么搞", "怎么走",
    "怎办", "哪里", "哪儿", "在哪", "在哪里", "在哪儿", "哪", "哪个", "哪些", "哪家", "什么", "啥",
    "吗", "么", "呢", "吧", "啊", "呀", "哦", "嘛", "哈", "了", "的", "地", "得", "着", "过", "是",
    "有", "在", "去", "来", "到", "给", "帮", "帮忙", "帮我", "请问", "请", "问", "问下", "问一下",
    "一下", "下", "可以", "能", "能否", "能不能", "可不可以", "是否", "会", "应该", "该", "找",
    "谁", "办", "弄", "搞", "做", "走", "一个", "个", "这个", "那个", "这", "那", "还", "和", "与",
    "及", "或", "就", "都", "也", "又", "再", "没", "没有", "有没有", "要不要", "用", "用不用",
    "需不需要", "多少", "几", "怎", "样", "您好", "你好", "老铁", "谢谢", "麻烦", "一趟", "所有",
    "关于", "对于", "进行", "已经", "现在", "马上",
))
SOFT_WORDS = frozenset((
    "申请", "办理", "流程", "手续", "材料", "审批", "审核", "报备", "登记", "备案", "上报", "报送",
    "报告", "提交", "填写", "条件", "规定", "要求", "指南", "事项", "业务", "部门", "单位", "学校",
    "学院", "系统", "平台", "网站", "入口", "地址", "电话", "联系", "时间", "多久", "几天", "批",
    "报", "交", "填", "开", "审", "批准", "同意", "签字", "盖章",
    # where something is, not what it is about (the object or the act decides: 办公室的电脑)
    "办公室", "教室", "校园", "教学楼", "楼里", "学校里",
    # which unit asks, not what about (研究所想申请个公众号)
    "研究所", "研究院", "研究中心", "教研室", "课题组", "中心", "处里", "院里", "系里", "科室",
    # who asks picks the variant; it is not what the question is about
    "老师", "教师", "教职工", "职工", "学生", "同学", "领导", "干部", "员工",
))

#: general campus words people use interchangeably; terms are indexed with each variant
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("老师", "教师", "教职工", "职工"),
    ("学生", "同学"),
    ("借", "借用", "预约", "预定", "租", "订"),
    ("坏了", "故障", "出问题", "用不了", "不能用", "坏掉了", "出毛病"),
    ("修", "维修", "修理"),
    ("电脑", "计算机", "笔记本", "台式机"),
    ("邮箱", "邮件", "电子邮箱", "email", "mail"),
    ("公众号", "微信公众号"),
    ("汽车", "机动车", "小车", "私家车", "轿车"),
    ("外出", "出差", "出去", "离校"),
    ("剧院", "剧场"),
    ("宿舍", "寝室"),
    ("登录", "登陆"),
    ("校领导", "学校领导"),
    ("监控", "监控录像", "摄像头"),
    ("报修", "保修"),
    ("出国", "出境"),
    ("上课", "上学", "读书"),
    ("横幅", "条幅"),
)

#: question words: a sentence with one of these asks about the process
QUESTION_MARKERS = (
    "怎么", "怎样", "如何", "咋", "哪里", "哪儿", "在哪", "哪个", "什么", "啥", "吗", "么", "呢",
    "找谁", "谁", "要不要", "需不需要", "能不能", "可不可以", "是否", "流程", "手续", "材料",
    "条件", "多久", "指南", "?", "？", "问一下", "请问", "了解",
)
#: wishes and imperatives: a sentence starting with one of these asks to apply
APPLY_STARTS = (
    "我要", "我想", "想要", "我需要", "帮我", "给我", "请帮我", "麻烦", "我来", "我准备", "我打算",
    "要", "想", "申请", "预约", "借", "报修", "办理", "开通", "登记", "我得", "我现在要",
)

#: what applying is called in a sentence (请…假, 报修, 预约 …), and the words before it that make
#: the sentence a wish of the asker's own (我…, 要, 帮我)
APPLY_ACTS = re.compile(r"请\S{0,6}?假|申请|报修|修一下|预约|预定|订|借|登记|备案|报备|上报|"
                        r"开通|办理|采购|买|休学|复学|免修|挂|拉|摆|录")
WISHES = re.compile(r"我|咱|要|想|得|准备|打算|需要|帮|给我|麻烦")

#: acts whose object the catalog need not know: the act decides (买显微镜 is a purchase,
#: 报废桌子 a disposal of assets); an unknown word right after one weighs little
ACTS_ON_OBJECTS = frozenset((
    "买", "购买", "采购", "购置", "添置", "报废", "调拨", "维修", "修", "修理", "借", "借用", "租",
    "预约", "录", "录制", "拍", "拍摄", "注销", "开通",
))
#: counted things (几条横幅, 一台显微镜, 三块展板): the count is no topic
MEASURES = re.compile(r"(?:几|[一两二三四五六七八九十]|\d+)[个条张块把台套批些件份位名间辆](?!手)")

#: a word naming a place (体育馆, 教学楼, 三食堂): where something is, not what it is about
PLACES = re.compile(r"(?:馆|楼|场|堂|室|门口|广场|宿舍|公寓|校区)$")

#: everyday words and the catalog's words for the same thing. A word of the question the catalog
#: does not use is read as each member of its groups that it does use (老婆 → 配偶, 当兵 → 入伍).
EVERYDAY: tuple[tuple[str, ...], ...] = (
    ("入伍", "当兵", "参军", "服兵役", "应征入伍"),
    ("退役", "退伍", "复员"),
    ("配偶", "老婆", "老公", "爱人", "妻子", "丈夫", "媳妇"),
    ("家属", "家人", "家里人", "亲属"),
    ("子女", "孩子", "小孩", "儿子", "女儿"),
    ("父母", "爸妈", "家长"),
    ("删除", "删掉", "去掉", "撤下", "下架"),
    ("修改", "更改", "改动", "更正"),
    ("更换", "换", "换成", "变更"),
    ("异常", "不对劲", "不正常", "反常"),
    ("情绪", "心情", "低落", "消沉"),
    ("自杀", "轻生", "寻死", "想不开", "不想活", "活不下去", "寻短见"),
    ("剐蹭", "刮", "蹭", "刮擦", "刮花", "追尾"),
    ("被盗", "偷", "被偷", "失窃", "盗窃"),
    ("通知", "公告", "通告"),
    ("网站", "主页", "首页", "官网"),
    ("网页", "页面"),
    ("考核", "考核表", "年度考核", "年终考核"),
    ("职称", "评职称", "职称评审"),
    ("讲座", "学术报告", "专题报告"),
    ("论坛", "学术论坛", "峰会"),
    ("研讨会", "座谈会", "学术会议", "研讨"),
    ("采访", "专访", "拍摄"),
    ("媒体", "记者", "电视台", "报社", "报纸", "央视"),
    ("社团", "学生会", "学生组织", "协会"),
    ("采购", "购买", "买", "购置", "购入"),
    ("成绩", "分数"),
    ("发热", "发烧", "高烧", "低烧"),
    ("阳性", "两条杠", "阳了", "中招"),
    ("隔离", "居家隔离", "封控"),
    ("会议", "开会", "参会"),
    ("外地", "外省", "省外", "省里", "市外"),
    ("出境", "国外", "境外", "海外"),
    ("网盘", "云盘", "云存储", "网络硬盘"),
    ("共享", "分享"),
    ("汽车", "车", "车子"),
    ("摆摊", "摆摊位", "设摊", "摆个摊"),
    ("推广", "推销", "营销"),
    ("电话卡", "手机卡", "流量卡"),
    ("录像", "视频监控"),
    ("超星", "学习通", "泛雅"),
    ("网课", "线上课", "在线课程", "网络课程"),
    ("工资", "薪水", "薪资"),
    ("注销", "不用了", "不用", "停用", "停更", "不再运营"),
    ("免修", "免考", "免听", "免"),
    ("家里有事", "家事", "家中有事", "私事"),
    ("军事课", "军训课", "军训", "军事理论"),
    ("课程", "课", "科目"),
    ("学院", "院里", "院系", "系里"),
    ("专家", "教授", "学者", "院士", "博导", "知名学者"),
    ("培训", "进修", "培训班", "研修", "研修班"),
    ("旅游", "旅行", "度假", "游玩"),
    ("生病", "病了", "不舒服", "身体不适", "身体不好"),
    ("住院", "动手术", "开刀"),
    ("生孩子", "生娃", "坐月子", "分娩"),
    ("漏水", "渗水", "滴水", "冒水"),
    ("堵了", "堵住", "堵塞", "不通了"),
    ("横幅", "标语"),
    ("海报", "宣传画", "招贴"),
    ("公众号", "订阅号", "服务号"),
    ("投影仪", "投影机"),
    ("车牌", "车牌号", "牌照"),
    ("资助", "补助", "补贴", "困难补助"),
    ("结算", "尾款结算"),
    ("身份证", "身份证号", "证件号"),
    ("姓名", "名字"),
    ("评教", "打分", "评分"),
    ("论文", "文章", "期刊论文"),
)

#: a fault as people type it (开不了机, 打不出来, 不亮了, 刷不了) reads as 坏了
_FAULT = re.compile(
    r"(?:开|打|连|刷|用|启动|充|插|投)不(?:了|上|出来|开|进去|动|起来)(?:机|电)?|"
    r"(?:不|没)(?:亮|转|响|通|制冷|制热|出水|反应|声音|显示|信号)了?|坏掉了?|失灵了?|罢工了?")
#: the network dropping (网络经常断, 网又断了) reads as 断网
_DROPS = re.compile(r"(?:网络?|网线|wifi|WiFi)(?:经常|老是|总是|又|突然|时不时)?断(?:了|开|掉)?")


#: several leaders named together (书记院长副院长, 几个领导, 领导们): the team, together
_TITLE = r"(?:校长|副校长|书记|副书记|院长|副院长|处长|副处长|部长|副部长|主任|副主任|领导)"
_SEVERAL_LEADERS = re.compile(rf"{_TITLE}(?:[、和跟与及,，]?{_TITLE})+|"
                              r"(?:几|多|各|两|三|好几)(?:个|位|名)(?:院|处|部|校)?领导|领导们")


#: telling someone in charge (报给学校, 告诉辅导员) is reporting
_TELL = re.compile(r"(?:报给|告诉|通知|报告给)(?=学校|单位|学院|辅导员|部门|领导|老师|保卫处)")

#: a question about when or how long something is open or happens (几点开门, 什么时候发): a fact
#: to look up, not a process to go through
WHEN = re.compile(r"几点|什么时候|啥时候|何时|几号|哪天|什么时间")
#: paying or being paid back (充值, 缴费, 报销): the hall takes no payments
PAYING = re.compile(r"充值|缴费|交费|报销|退费|扣费|续费|充钱|交钱|收费|收多少钱")


def plain_phrasing(text: str) -> str:
    """The question with colloquial phrasing put in the catalog's words: faults (开不了机 →
    坏了), the network dropping (断网), several leaders together (班子集体)."""
    text = _TELL.sub("上报", _SEVERAL_LEADERS.sub("班子集体", text))
    return _FAULT.sub("坏了", _DROPS.sub("断网", text))


def _groups_by_word() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for group in (*SYNONYMS, *EVERYDAY):
        for word in group:
            found.setdefault(word, []).extend(other for other in group if other != word)
    return {word: tuple(dict.fromkeys(others)) for word, others in found.items()}


_BY_WORD = _groups_by_word()


def everyday_synonyms(word: str) -> tuple[str, ...]:
    """The words that mean the same as `word` (both lists), most specific first."""
    return _BY_WORD.get(word, ())
