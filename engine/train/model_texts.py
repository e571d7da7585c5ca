"""Model texts in other languages, written into each bundle's manifest (``translations``).

A clinician using Stethos in Simplified Chinese reads the model's name, its
intended use, who it is for, what it must not be used for and its output
classes in Chinese. The translations live with the bundle (the manifest's
``translations`` block, by language), not in the application's Qt catalogue:
an imported bundle brings its own. These are the texts of the bundled
models; every training command and ``stethos-engine train cards`` writes
them (:func:`with_translations`), so a rebuilt bundle keeps them.

Figures and limitations that change with each training run stay in English
in the card; the translated summary says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_HEART_USE = (
    "用于因胸痛而接受冠状动脉疾病评估的成人：根据年龄、性别、胸痛类型，以及已记录的 10 项常规临床、"
    "运动试验和影像检查结果中的任意几项，估计血管造影所示疾病（主要血管狭窄 > 50 %）的概率，"
    "以帮助确定进一步检查的优先次序。"
)
_HEART = {
    "intended_use": _HEART_USE,
    "intended_users": "受过心血管风险评估解读培训的医师和临床人员。",
    "contraindications": [
        "儿童或青少年",
        "急性冠脉综合征或急诊分诊",
        "作为诊断或不予治疗的唯一依据",
    ],
    "labels": {"no disease": "无疾病", "disease": "有疾病"},
}
_FAMILY = {
    "hgb": "梯度提升",
    "logreg": "逻辑回归",
    "rf": "随机森林",
    "svm": "支持向量机",
    "tree": "决策树",
}

#: Simplified Chinese texts of the bundled models, by model id.
ZH_CN: dict[str, dict[str, Any]] = {
    **{
        f"heart-disease-{key}-13": {"name": f"根据临床病历评估心脏病风险（{family}）", **_HEART}
        for key, family in _FAMILY.items()
    },
    "cxr-pneumonia-resnet18-224": {
        "name": "儿童胸部 X 线片肺炎检测（ResNet-18）",
        "intended_use": (
            "标记 1–5 岁儿童正位（后前位/前后位）胸部 X 线片中显示肺炎（细菌性或病毒性）征象的图像，"
            "作为提示临床医师再次查看的第二阅片者。不是诊断。"
        ),
        "intended_users": "阅读儿童胸部 X 线片的临床医师。",
        "contraindications": [
            "成人（仅用 1–5 岁儿童的图像训练）",
            "侧位片、CT 或胸部以外的任何部位",
            "区分细菌性与病毒性肺炎，或任何其他发现（积液、气胸、导管、肿块）",
            "作为诊断或不予治疗的唯一依据",
        ],
        "labels": {"normal": "正常", "pneumonia": "肺炎"},
        "validation_design": "每个采集序列中最新的一批患者，留出作为测试集",
    },
    "ecg-beats-bilstm-360": {
        "name": "心电图心搏分类（AAMI N/S/V/F/Q，双向 LSTM）",
        "intended_use": (
            "为静息或动态心电图（II 导联类导联）中检测到的每个心搏标注其 AAMI EC57 类别——正常 (N)、"
            "室上性异位 (S)、室性异位 (V)、融合 (F)、无法分类 (Q)——帮助临床医师在长程记录中找到异位搏动。"
        ),
        "intended_users": "心内科医师、其他医师和心电图技师。",
        "contraindications": [
            "起搏心律（训练时排除了起搏器记录）",
            "室扑或室颤，以及一般的节律诊断",
            "II/MLII 类肢体导联以外的导联",
            "作为诊断或治疗的唯一依据",
        ],
        "labels": {"N": "正常", "S": "室上性异位", "V": "室性异位", "F": "融合", "Q": "无法分类"},
    },
    "ecg-rhythm-features-300": {
        "name": "心电图心律：正常、心房颤动、其他、噪声（节律特征，梯度提升）",
        "intended_use": (
            "将单导联心电图——9–60 秒的手持式记录（类 I 导联），或静息/动态记录的 II、MLII、I 导联——"
            "的节律分类为正常窦性心律、心房颤动或扑动（房颤）、其他节律或噪声过大无法分类；"
            "对长于一分钟的记录，找出房颤发作及房颤负荷，并总结心率、停搏和异位搏动，帮助临床医师阅读节律。"
        ),
        "intended_users": "心内科医师、其他医师和心电图技师。",
        "contraindications": [
            "起搏心律（训练记录未标注起搏；无法识别起搏钉）",
            "室扑或室颤及任何急症：这不是报警系统",
            "儿童（训练记录来自成人的手持设备）",
            "作为房颤诊断或抗凝治疗的唯一依据",
        ],
        "labels": {"normal": "正常", "AF": "房颤", "other": "其他", "noisy": "噪声"},
        "validation_design": "按记录的 10 折交叉验证，CinC 2017",
    },
}

#: Languages with texts here.
LANGUAGES = {"zh_CN": ZH_CN}


def with_translations(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` with the ``translations`` block of its model id (unchanged when none)."""
    out = dict(manifest)
    found = {lang: texts[out["id"]] for lang, texts in LANGUAGES.items() if out["id"] in texts}
    if found:
        out["translations"] = found
    return out
