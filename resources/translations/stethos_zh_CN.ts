<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AboutDialog</name>
    <message>
        <source>About Stethos</source>
        <extracomment>Third-party packages credited, with the licence to show when the metadata has none.</extracomment>
        <translation>关于 Stethos</translation>
    </message>
    <message>
        <source>Offline diagnosis workstation. Results support, and do not replace, the judgement of a qualified clinician.</source>
        <translation>离线诊断工作站。分析结果用于辅助而非取代合格临床医师的判断。</translation>
    </message>
    <message>
        <source>Python {0}, Qt {1}, Qt for Python {2}.</source>
        <translation>Python {0}，Qt {1}，Qt for Python {2}。</translation>
    </message>
    <message>
        <source>Models and their training data</source>
        <translation>模型及其训练数据</translation>
    </message>
    <message>
        <source>No model is installed.</source>
        <translation>未安装任何模型。</translation>
    </message>
    <message>
        <source>licence: {0}</source>
        <translation>许可证：{0}</translation>
    </message>
    <message>
        <source>Trained on {0}; source: {1}; data licence: {2}.</source>
        <translation>训练数据：{0}；来源：{1}；数据许可证：{2}。</translation>
    </message>
    <message>
        <source>Sample studies</source>
        <translation>示例检查</translation>
    </message>
    <message>
        <source>No sample studies are installed.</source>
        <translation>未安装示例检查。</translation>
    </message>
    <message>
        <source>Third-party software</source>
        <translation>第三方软件</translation>
    </message>
    <message>
        <source>Package</source>
        <translation>软件包</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>Licence</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>The heat-map colours use the Turbo colour map (Google LLC, Apache-2.0).</source>
        <translation>热力图配色采用 Turbo 色图（Google LLC，Apache-2.0 许可）。</translation>
    </message>
</context>
<context>
    <name>AiDicom</name>
    <message>
        <source>Save result as &amp;DICOM…</source>
        <extracomment>AI objects of the studies opened, by study UID (what the browser lists).</extracomment>
        <translation>将结果保存为 DICOM(&amp;D)…</translation>
    </message>
    <message>
        <source>Send result to &amp;PACS…</source>
        <translation>将结果发送到 PACS(&amp;P)…</translation>
    </message>
    <message>
        <source>Save as DICOM…</source>
        <translation>保存为 DICOM…</translation>
    </message>
    <message>
        <source>Send to PACS…</source>
        <translation>发送到 PACS…</translation>
    </message>
    <message>
        <source>Analyse an image, an ECG or a record first.</source>
        <translation>请先分析一幅图像、一份心电图或一份记录。</translation>
    </message>
    <message>
        <source>Save the result as DICOM into</source>
        <translation>将结果以 DICOM 格式保存到</translation>
    </message>
    <message>
        <source>Nothing was written: {0}</source>
        <translation>未写入任何内容：{0}</translation>
    </message>
    <message>
        <source>{0} DICOM object(s) written to {1}.</source>
        <translation>已将 {0} 个 DICOM 对象写入 {1}。</translation>
    </message>
    <message>
        <source>A record result is sent with its study: save it as DICOM into the study&apos;s folder, or send the study.</source>
        <translation>记录结果随其检查一起发送：请将其以 DICOM 格式保存到该检查的文件夹，或发送该检查。</translation>
    </message>
    <message>
        <source>No DICOM node is configured (File ▸ DICOM network…).</source>
        <translation>尚未配置 DICOM 节点（文件 ▸ DICOM 网络…）。</translation>
    </message>
    <message>
        <source>Send result to PACS</source>
        <translation>将结果发送到 PACS</translation>
    </message>
    <message>
        <source>Send to:</source>
        <translation>发送到：</translation>
    </message>
    <message>
        <source>Result sent to {0}: {1} object(s); {2} not sent.</source>
        <translation>结果已发送到 {0}：{1} 个对象；{2} 个未发送。</translation>
    </message>
    <message>
        <source>Earlier AI results stored with this study:</source>
        <translation>此检查中保存的先前 AI 结果：</translation>
    </message>
    <message>
        <source>Earlier AI result: {0}</source>
        <translation>先前的 AI 结果：{0}</translation>
    </message>
</context>
<context>
    <name>BeatClasses</name>
    <message>
        <source>Normal</source>
        <extracomment>Calibration pulse: 1 mV for 200 ms, drawn at the start of every row. Flat paper before and after the pulse (mm). Empty paper after the last sample of a row (mm). The conventional 12-lead print: four columns of 2.5 s, three rows, and a rhythm strip. AAMI EC57 beat classes, in the order the beat model reports them. One colour per class, readable on light and dark paper.</extracomment>
        <translation>正常</translation>
    </message>
    <message>
        <source>Supraventricular ectopic</source>
        <translation>室上性异位搏动</translation>
    </message>
    <message>
        <source>Ventricular ectopic</source>
        <translation>室性异位搏动</translation>
    </message>
    <message>
        <source>Fusion</source>
        <translation>融合波</translation>
    </message>
    <message>
        <source>Unclassifiable</source>
        <translation>无法分类</translation>
    </message>
</context>
<context>
    <name>ChangePasswordDialog</name>
    <message>
        <source>Your password was reset by an administrator. Choose your own password now.</source>
        <translation>管理员已重置您的密码。请现在设置您自己的密码。</translation>
    </message>
    <message>
        <source>Choose a new password.</source>
        <translation>请设置新密码。</translation>
    </message>
    <message>
        <source>Change password</source>
        <translation>修改密码</translation>
    </message>
    <message>
        <source>Current password:</source>
        <translation>当前密码：</translation>
    </message>
    <message>
        <source>New password:</source>
        <translation>新密码：</translation>
    </message>
    <message>
        <source>Repeat new password:</source>
        <translation>再次输入新密码：</translation>
    </message>
    <message>
        <source>The two passwords differ. Type them again.</source>
        <translation>两次输入的密码不一致。请重新输入。</translation>
    </message>
</context>
<context>
    <name>ContributionChart</name>
    <message>
        <source>not recorded</source>
        <translation>未记录</translation>
    </message>
    <message>
        <source>towards {0}</source>
        <translation>倾向 {0}</translation>
    </message>
    <message>
        <source>away from {0}</source>
        <translation>背离 {0}</translation>
    </message>
    <message>
        <source>not recorded (effect of its absence)</source>
        <translation>未记录（缺失本身的影响）</translation>
    </message>
    <message>
        <source>No contributions.</source>
        <translation>无特征贡献。</translation>
    </message>
    <message>
        <source>Effect ({0})</source>
        <translation>影响（{0}）</translation>
    </message>
</context>
<context>
    <name>DatabasePasswordBox</name>
    <message>
        <source>Database password:</source>
        <translation>数据库密码：</translation>
    </message>
    <message>
        <source>Remember on this workstation</source>
        <translation>在此工作站上记住</translation>
    </message>
    <message>
        <source>Kept in the system keyring where there is one, otherwise encrypted under your own password; never in plain text.</source>
        <translation>如有系统密钥环则保存在其中，否则用您自己的密码加密保存；绝不以明文保存。</translation>
    </message>
    <message>
        <source>The clinic database {0} asks this workstation for its own password. It comes from IT and is not your personal password.</source>
        <translation>诊所数据库 {0} 要求此工作站提供其自身的密码。该密码由 IT 提供，不是您的个人密码。</translation>
    </message>
    <message>
        <source>Enter the clinic database password.</source>
        <translation>请输入诊所数据库密码。</translation>
    </message>
</context>
<context>
    <name>EcgPanel</name>
    <message>
        <source>ECG</source>
        <translation>心电图</translation>
    </message>
    <message>
        <source>12-lead (3×4 + rhythm)</source>
        <extracomment>Slider steps per second of signal. Show a progress bar and Cancel in the panel (off when the window&apos;s status bar does).</extracomment>
        <translation>12 导联（3×4 + 节律条）</translation>
    </message>
    <message>
        <source>Scrolling leads</source>
        <translation>滚动导联</translation>
    </message>
    <message>
        <source>{0:g} mm/s</source>
        <translation>{0:g} mm/s</translation>
    </message>
    <message>
        <source>{0:g} mm/mV</source>
        <translation>{0:g} mm/mV</translation>
    </message>
    <message>
        <source>Show attributions</source>
        <translation>显示归因</translation>
    </message>
    <message>
        <source>Shade the analysed lead where the model looked most (integrated gradients).</source>
        <translation>在所分析的导联上以阴影标出模型最关注的部分（积分梯度）。</translation>
    </message>
    <message>
        <source>Analyze ECG</source>
        <translation>分析心电图</translation>
    </message>
    <message>
        <source>Open an ECG record first.</source>
        <translation>请先打开心电图记录。</translation>
    </message>
    <message>
        <source>Rhythm report</source>
        <translation>节律报告</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Layout:</source>
        <translation>布局：</translation>
    </message>
    <message>
        <source>Speed:</source>
        <translation>走纸速度：</translation>
    </message>
    <message>
        <source>Gain:</source>
        <translation>增益：</translation>
    </message>
    <message>
        <source>Real size</source>
        <translation>实际尺寸</translation>
    </message>
    <message>
        <source>Print the 12 leads at true millimetres (as on paper, on a calibrated screen: View ▸ Settings); otherwise the print is fitted to the view.</source>
        <translation>以真实毫米显示 12 导联（与纸质相同，需校准屏幕：视图 ▸ 设置）；否则将图形缩放以适应视图。</translation>
    </message>
    <message>
        <source>Open an ECG record (File ▸ Open ECG…).</source>
        <translation>请打开心电图记录（文件 ▸ 打开心电图…）。</translation>
    </message>
    <message>
        <source>Position in the recording</source>
        <translation>在记录中的位置</translation>
    </message>
    <message>
        <source>Caliper: drag on the paper to measure.</source>
        <translation>测量尺：在心电图纸上拖动进行测量。</translation>
    </message>
    <message>
        <source>Beat</source>
        <translation>心搏</translation>
    </message>
    <message>
        <source>Probability</source>
        <translation>概率</translation>
    </message>
    <message>
        <source>&lt;b&gt;Beats by class&lt;/b&gt;</source>
        <translation>&lt;b&gt;按类别列出的心搏&lt;/b&gt;</translation>
    </message>
    <message>
        <source>Beats</source>
        <translation>心搏</translation>
    </message>
    <message>
        <source>Rhythm</source>
        <translation>节律</translation>
    </message>
    <message>
        <source>Open &amp;ECG…</source>
        <translation>打开心电图(&amp;E)…</translation>
    </message>
    <message>
        <source>Open sample &amp;12-lead ECG</source>
        <translation>打开示例 12 导联心电图(&amp;1)</translation>
    </message>
    <message>
        <source>Open sample &amp;Holter ECG (MIT-BIH 119)</source>
        <translation>打开示例动态心电图 Holter（MIT-BIH 119）(&amp;H)</translation>
    </message>
    <message>
        <source>Open sample &amp;handheld ECG (CinC 2017, atrial fibrillation)</source>
        <translation>打开示例手持式心电图（CinC 2017，心房颤动）(&amp;H)</translation>
    </message>
    <message>
        <source>Analyze &amp;ECG</source>
        <translation>分析心电图(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Rhythm report</source>
        <translation>节律报告(&amp;R)</translation>
    </message>
    <message>
        <source>Open an ECG record</source>
        <translation>打开心电图记录</translation>
    </message>
    <message>
        <source>ECG records (*.hea *.dcm *.DCM *.dat);;All files (*)</source>
        <translation>心电图记录 (*.hea *.dcm *.DCM *.dat);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Label every beat with the beat model.</source>
        <translation>用心搏模型标注每个心搏。</translation>
    </message>
    <message>
        <source>Rhythm, AF episodes and burden, heart rate, pauses and ectopy.</source>
        <translation>节律、房颤发作与负荷、心率、停搏和异位搏动。</translation>
    </message>
    <message>
        <source>No signal: {0}</source>
        <translation>无信号：{0}</translation>
    </message>
    <message>
        <source>1 lead</source>
        <translation>1 个导联</translation>
    </message>
    <message>
        <source>{0} leads</source>
        <translation>{0} 个导联</translation>
    </message>
    <message>
        <source>{0} · {1} ({2}) · {3:g} Hz · {4}</source>
        <translation>{0} · {1}（{2}） · {3:g} Hz · {4}</translation>
    </message>
    <message>
        <source>unnamed</source>
        <translation>未命名</translation>
    </message>
    <message>
        <source>ID {0}</source>
        <translation>ID {0}</translation>
    </message>
    <message>
        <source>age {0}</source>
        <translation>年龄 {0}</translation>
    </message>
    <message>
        <source>sex {0}</source>
        <translation>性别 {0}</translation>
    </message>
    <message>
        <source>Patient: {0}</source>
        <translation>患者：{0}</translation>
    </message>
    <message>
        <source>{0} — {1}: {2}</source>
        <translation>{0} — {1}：{2}</translation>
    </message>
    <message>
        <source>Caliper: {0}</source>
        <translation>测量尺：{0}</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>已取消。</translation>
    </message>
</context>
<context>
    <name>EcgPaper</name>
    <message>
        <source>Δt {0:.0f} ms</source>
        <extracomment>Half-width of the band drawn behind the highlighted beat (seconds). The zoom range a 12-lead print is fitted to its view within. On-screen enlargement of the paper (1 = true size at the screen&apos;s dpi); a 12-lead print is fitted to its view. Calipers measure in paper mm whatever it is. Rhythm episodes shaded on the paper: ``(start_s, end_s, label)``. Irregular RR intervals the rhythm model&apos;s explanation names: ``(start_s, end_s, change)``.</extracomment>
        <translation>Δt {0:.0f} ms</translation>
    </message>
    <message>
        <source>({0:.0f} bpm)</source>
        <translation>（{0:.0f} 次/分）</translation>
    </message>
    <message>
        <source>ΔV {0:+.2f} mV</source>
        <translation>ΔV {0:+.2f} mV</translation>
    </message>
</context>
<context>
    <name>EditPatientDialog</name>
    <message>
        <source>Edit patient</source>
        <translation>编辑患者</translation>
    </message>
    <message>
        <source>Correct {0}&apos;s identifying data. The earlier version is kept in the history with who changed it, when and why.</source>
        <translation>更正{0}的身份信息。之前的版本保留在历史记录中，并记录修改人、修改时间和原因。</translation>
    </message>
    <message>
        <source>e.g. typing error in the birth date</source>
        <translation>例如：出生日期输入错误</translation>
    </message>
    <message>
        <source>Reason for the change:</source>
        <translation>修改原因：</translation>
    </message>
    <message>
        <source>Say why the data is changed: the reason is required.</source>
        <translation>请说明修改原因：原因为必填项。</translation>
    </message>
</context>
<context>
    <name>EditRecordDialog</name>
    <message>
        <source>Edit record</source>
        <translation>编辑记录</translation>
    </message>
    <message>
        <source>Correct the values of this record. The values saved before are kept as an earlier version, with who changed them, when and why.</source>
        <translation>更正此记录中的数值。之前保存的数值作为较早版本保留，并记录修改人、修改时间和原因。</translation>
    </message>
    <message>
        <source>e.g. cholesterol result corrected by the lab</source>
        <translation>例如：化验室更正了胆固醇结果</translation>
    </message>
    <message>
        <source>Reason for the change:</source>
        <translation>修改原因：</translation>
    </message>
    <message>
        <source>Nothing was saved. Correct these values first:</source>
        <translation>未保存任何内容。请先更正以下数值：</translation>
    </message>
    <message>
        <source>Say why the record is changed: the reason is required.</source>
        <translation>请说明修改记录的原因：原因为必填项。</translation>
    </message>
</context>
<context>
    <name>EncounterReport</name>
    <message>
        <source>not recorded</source>
        <translation>未记录</translation>
    </message>
    <message>
        <source>Beats per class: {0} (of {1} beats)</source>
        <translation>各类心搏数：{0}（共 {1} 个心搏）</translation>
    </message>
    <message>
        <source>&lt;b&gt;No result&lt;/b&gt;: the image looks unlike the images this model was validated on, and the model gave no label. No result does not mean the image is normal.</source>
        <translation>&lt;b&gt;无结果&lt;/b&gt;：此图像与本模型验证时所用的图像不同，模型未给出标签。无结果不代表图像正常。</translation>
    </message>
    <message>
        <source>Result: &lt;b&gt;{0}&lt;/b&gt; (probability of {1}: {2})</source>
        <translation>结果：&lt;b&gt;{0}&lt;/b&gt;（{1} 的概率：{2}）</translation>
    </message>
    <message>
        <source>Model id: {0} · version {1} · weights {2}…</source>
        <translation>模型 ID：{0} · 版本 {1} · 权重 {2}…</translation>
    </message>
    <message>
        <source>Operating point: {0} (threshold {1:.2f}; sensitivity {2}, specificity {3})</source>
        <translation>工作点：{0}（阈值 {1:.2f}；灵敏度 {2}，特异度 {3}）</translation>
    </message>
    <message>
        <source>Intended use: {0}</source>
        <translation>预期用途：{0}</translation>
    </message>
    <message>
        <source>Explanation: {0}</source>
        <translation>解释：{0}</translation>
    </message>
    <message>
        <source>Clinician&apos;s decision: none recorded yet.</source>
        <translation>临床医生的决定：尚未记录。</translation>
    </message>
    <message>
        <source>accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <source>overridden</source>
        <translation>已否决</translation>
    </message>
    <message>
        <source>Clinician&apos;s decision: {0} by {1} on {2}</source>
        <translation>临床医生的决定：{0}（{1}，{2}）</translation>
    </message>
    <message>
        <source>comment: {0}</source>
        <translation>备注：{0}</translation>
    </message>
    <message>
        <source>Birth date</source>
        <translation>出生日期</translation>
    </message>
    <message>
        <source>ECG</source>
        <translation>心电图</translation>
    </message>
    <message>
        <source>Encounter</source>
        <translation>就诊</translation>
    </message>
    <message>
        <source>Finding</source>
        <translation>检查项</translation>
    </message>
    <message>
        <source>Image</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>MRN</source>
        <translation>病历号</translation>
    </message>
    <message>
        <source>No model results in this encounter.</source>
        <translation>本次就诊没有模型结果。</translation>
    </message>
    <message>
        <source>Opened by</source>
        <translation>创建人</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>患者</translation>
    </message>
    <message>
        <source>Results</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Sex</source>
        <translation>性别</translation>
    </message>
    <message>
        <source>Stethos encounter report</source>
        <translation>Stethos 就诊报告</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>With the model heat map</source>
        <translation>叠加模型热图</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>Female</source>
        <translation>女</translation>
    </message>
    <message>
        <source>Male</source>
        <translation>男</translation>
    </message>
    <message>
        <source>Other</source>
        <translation>其他</translation>
    </message>
    <message>
        <source>Unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>Record (recorded by {0} on {1}, version {2})</source>
        <translation>记录（由 {0} 于 {1} 录入，第 {2} 版）</translation>
    </message>
    <message>
        <source>Generated by Stethos {0} on {1} for {2}.</source>
        <translation>由 Stethos {0} 于 {1} 为 {2} 生成。</translation>
    </message>
</context>
<context>
    <name>HistoryDialog</name>
    <message>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>When</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>By</source>
        <translation>修改人</translation>
    </message>
    <message>
        <source>Reason</source>
        <translation>原因</translation>
    </message>
    <message>
        <source>Data</source>
        <translation>数据</translation>
    </message>
</context>
<context>
    <name>ImageView</name>
    <message>
        <source>Open a DICOM file (File ▸ Open) or drop it here.</source>
        <translation>请打开 DICOM 文件（文件 ▸ 打开）或将其拖放到此处。</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>(no name)</source>
        <translation>（无姓名）</translation>
    </message>
    <message>
        <source>ID: {0}</source>
        <translation>ID：{0}</translation>
    </message>
    <message>
        <source>(identity hidden)</source>
        <translation>（身份已隐藏）</translation>
    </message>
    <message>
        <source>Acc: {0}</source>
        <translation>检查号：{0}</translation>
    </message>
    <message>
        <source>Se {0}</source>
        <translation>序列 {0}</translation>
    </message>
    <message>
        <source>W: {0:.0f}  L: {1:.0f}</source>
        <translation>窗宽：{0:.0f}  窗位：{1:.0f}</translation>
    </message>
    <message>
        <source>Zoom: {0:.0%}</source>
        <translation>缩放：{0:.0%}</translation>
    </message>
    <message>
        <source>Im: {0}/{1}</source>
        <translation>图像：{0}/{1}</translation>
    </message>
    <message>
        <source>Frame {0}/{1}</source>
        <translation>帧 {0}/{1}</translation>
    </message>
    <message>
        <source>Loc: {0:.2f} mm</source>
        <translation>位置：{0:.2f} mm</translation>
    </message>
    <message>
        <source>Thk: {0:g} mm</source>
        <translation>层厚：{0:g} mm</translation>
    </message>
    <message>
        <source>Rotated {0}°</source>
        <translation>已旋转 {0}°</translation>
    </message>
    <message>
        <source>Flipped {0}</source>
        <translation>已翻转 {0}</translation>
    </message>
    <message>
        <source>H</source>
        <translation>水平</translation>
    </message>
    <message>
        <source>V</source>
        <translation>垂直</translation>
    </message>
    <message>
        <source>Inverted</source>
        <translation>已反相</translation>
    </message>
    <message>
        <source>{0} × {1}</source>
        <translation>{0} × {1}</translation>
    </message>
    <message>
        <source>Series: {0}</source>
        <translation>序列：{0}</translation>
    </message>
    <message>
        <source> (+{0} more, see Studies)</source>
        <translation>（另有 {0} 项，见“检查”）</translation>
    </message>
    <message>
        <source>…</source>
        <extracomment>A press and release closer than this (view pixels) is a click, not a drag. How close (view pixels) a click must be to a measurement to select it.</extracomment>
        <translation>…</translation>
    </message>
    <message>
        <source>mm</source>
        <translation>mm</translation>
    </message>
    <message>
        <source>px</source>
        <translation>像素</translation>
    </message>
    <message>
        <source>mm²</source>
        <translation>mm²</translation>
    </message>
    <message>
        <source>px²</source>
        <translation>像素²</translation>
    </message>
    <message>
        <source>Area {0:.1f} {1} (no pixels)</source>
        <translation>面积 {0:.1f} {1}（无像素）</translation>
    </message>
    <message>
        <source>Mean {0:.1f}{1}  SD {2:.1f}
Min {3:.1f}  Max {4:.1f}
Area {5:.1f} {6}</source>
        <translation>均值 {0:.1f}{1}  标准差 {2:.1f}
最小值 {3:.1f}  最大值 {4:.1f}
面积 {5:.1f} {6}</translation>
    </message>
    <message>
        <source>Distance</source>
        <translation>距离</translation>
    </message>
    <message>
        <source>Angle</source>
        <translation>角度</translation>
    </message>
    <message>
        <source>Rectangle</source>
        <translation>矩形</translation>
    </message>
    <message>
        <source>Ellipse</source>
        <translation>椭圆</translation>
    </message>
    <message>
        <source>No pixel spacing in this image: measurements are in pixels.</source>
        <translation>此图像无像素间距信息：测量值以像素为单位。</translation>
    </message>
    <message>
        <source>Only Imager Pixel Spacing, corrected by the estimated magnification {0:g}: measurements are approximate.</source>
        <translation>仅有成像器像素间距，已按估计放大率 {0:g} 校正：测量值为近似值。</translation>
    </message>
    <message>
        <source>Only Imager Pixel Spacing (at the detector) is known: anatomy is magnified, so measurements overestimate.</source>
        <translation>仅知成像器像素间距（探测器平面）：解剖结构存在放大，测量值偏大。</translation>
    </message>
    <message>
        <source>Relevance (Grad-CAM)</source>
        <translation>相关性（Grad-CAM）</translation>
    </message>
    <message>
        <source>outline: ≥ {0:.2f}</source>
        <translation>轮廓：≥ {0:.2f}</translation>
    </message>
</context>
<context>
    <name>LockDialog</name>
    <message>
        <source>Session locked</source>
        <translation>会话已锁定</translation>
    </message>
    <message>
        <source>Stethos was locked after a period of inactivity. Enter the password of {0} to continue, or sign out.</source>
        <translation>由于一段时间无操作，Stethos 已锁定。请输入 {0} 的密码以继续，或退出登录。</translation>
    </message>
    <message>
        <source>Password:</source>
        <translation>密码：</translation>
    </message>
    <message>
        <source>Sign out</source>
        <translation>退出登录</translation>
    </message>
    <message>
        <source>Enter your password.</source>
        <translation>请输入您的密码。</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Stethos — diagnosis workstation</source>
        <extracomment>Every analysis made in this window (image, record, and ECG from the ECG tab), as an :class:`engine.workflow.AnalysisOutcome`. A study was sent to a DICOM node (File ▸ Send study to PACS…): the SendResult. The viewer shows another image, or none (for the patient controllers).</extracomment>
        <translation>Stethos — 诊断工作站</translation>
    </message>
    <message>
        <source>Images</source>
        <extracomment>Image model used by Analyze image (``None``: the registry&apos;s default). The heat map of an out-of-domain result, shown only if its score is asked for.</extracomment>
        <translation>图像</translation>
    </message>
    <message>
        <source>Studies</source>
        <translation>检查</translation>
    </message>
    <message>
        <source>Measurements</source>
        <translation>测量</translation>
    </message>
    <message>
        <source>Analyze record</source>
        <translation>分析病历</translation>
    </message>
    <message>
        <source>Patient record — heart-disease risk inputs</source>
        <translation>患者病历 — 心脏病风险输入项</translation>
    </message>
    <message>
        <source>Record and results</source>
        <translation>病历与结果</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>{0} image(s) received.</source>
        <extracomment>After the window shows, the image model is loaded and run once in the background (the first Analyze image then takes ~0.1 s instead of loading it). Posted at low priority once the window has painted: builds the parts the first frame does not show. Low priority: it comes after paints and after anything queued meanwhile (a close, say). The last study opened (StudyOpened or EcgFound), for parts built after it opened.</extracomment>
        <translation>已接收 {0} 幅图像。</translation>
    </message>
    <message>
        <source>Score heart-disease risk from the record.</source>
        <translation>根据病历评估心脏病风险。</translation>
    </message>
    <message>
        <source>Fill in the required fields (*) of the patient record with valid values.</source>
        <translation>请以有效数值填写患者病历的必填项（*）。</translation>
    </message>
    <message>
        <source>Run the image model on the image shown.</source>
        <translation>对当前显示的图像运行图像模型。</translation>
    </message>
    <message>
        <source>Open a radiograph first (File ▸ Open file…).</source>
        <translation>请先打开一张 X 线片（文件 ▸ 打开文件…）。</translation>
    </message>
    <message>
        <source>Show the DICOM tags of the image shown.</source>
        <translation>显示当前图像的 DICOM 标签。</translation>
    </message>
    <message>
        <source>Ready.</source>
        <extracomment>The scan of the files being opened, listed once their first view shows.
----------
Saved settings (ECG speed and gain, screen calibration, the models&apos; device). The record dock&apos;s visibility while the images tab was shown (the ECG tab hides it). The first-start layout, for View ▸ Reset layout.</extracomment>
        <translation>就绪。</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Open file…</source>
        <translation>打开文件(&amp;O)…</translation>
    </message>
    <message>
        <source>Open &amp;folder…</source>
        <translation>打开文件夹(&amp;F)…</translation>
    </message>
    <message>
        <source>Open &amp;DICOMDIR (CD/USB)…</source>
        <translation>打开 DICOMDIR（光盘/U 盘）(&amp;D)…</translation>
    </message>
    <message>
        <source>&amp;Query PACS…</source>
        <translation>查询 PACS(&amp;Q)…</translation>
    </message>
    <message>
        <source>Find a study on the clinic&apos;s PACS and retrieve it.</source>
        <translation>在诊所的 PACS 上查找检查并调取。</translation>
    </message>
    <message>
        <source>&amp;Send study to PACS…</source>
        <translation>将检查发送到 PACS(&amp;S)…</translation>
    </message>
    <message>
        <source>Send s&amp;eries to PACS…</source>
        <translation>将序列发送到 PACS(&amp;E)…</translation>
    </message>
    <message>
        <source>DICOM &amp;network…</source>
        <translation>DICOM 网络(&amp;N)…</translation>
    </message>
    <message>
        <source>Open &amp;recent</source>
        <translation>最近打开(&amp;R)</translation>
    </message>
    <message>
        <source>Open &amp;sample study</source>
        <translation>打开示例检查(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Close all studies</source>
        <translation>关闭所有检查(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>Reset &amp;layout</source>
        <translation>重置布局(&amp;L)</translation>
    </message>
    <message>
        <source>Put the panels back where they were on the first start.</source>
        <translation>将各面板恢复到首次启动时的位置。</translation>
    </message>
    <message>
        <source>&amp;Image</source>
        <translation>图像(&amp;I)</translation>
    </message>
    <message>
        <source>DICOM &amp;tags…</source>
        <translation>DICOM 标签(&amp;T)…</translation>
    </message>
    <message>
        <source>&amp;Measure</source>
        <translation>测量(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;Analysis</source>
        <translation>分析(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Analyze record</source>
        <translation>分析病历(&amp;A)</translation>
    </message>
    <message>
        <source>Fill in the required fields (*) of the patient record first.</source>
        <translation>请先填写患者病历的必填项（*）。</translation>
    </message>
    <message>
        <source>Analyze &amp;image</source>
        <translation>分析图像(&amp;I)</translation>
    </message>
    <message>
        <source>&amp;Model cards…</source>
        <translation>模型说明卡(&amp;M)…</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;Keyboard shortcuts</source>
        <translation>键盘快捷键(&amp;K)</translation>
    </message>
    <message>
        <source>&amp;About Stethos</source>
        <translation>关于 Stethos(&amp;A)</translation>
    </message>
    <message>
        <source>Open DICOM files</source>
        <translation>打开 DICOM 文件</translation>
    </message>
    <message>
        <source>DICOM files (*.dcm *.DCM *);;Pictures without DICOM header (*.png *.jpg *.jpeg);;All files (*)</source>
        <translation>DICOM 文件 (*.dcm *.DCM *);;无 DICOM 头的图片 (*.png *.jpg *.jpeg);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Open a folder of DICOM files</source>
        <translation>打开包含 DICOM 文件的文件夹</translation>
    </message>
    <message>
        <source>Open the DICOMDIR of a CD, DVD or USB stick</source>
        <translation>打开光盘、DVD 或 U 盘上的 DICOMDIR</translation>
    </message>
    <message>
        <source>DICOMDIR (DICOMDIR dicomdir DICOMDIR.*);;All files (*)</source>
        <translation>DICOMDIR (DICOMDIR dicomdir DICOMDIR.*);;所有文件 (*)</translation>
    </message>
    <message>
        <source> and {0} more</source>
        <translation> 及另外 {0} 项</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>（无）</translation>
    </message>
    <message>
        <source>Clear recent studies</source>
        <translation>清除最近的检查</translation>
    </message>
    <message>
        <source>Only an administrator changes the DICOM network: sign in as one.</source>
        <translation>只有管理员可以更改 DICOM 网络：请以管理员身份登录。</translation>
    </message>
    <message>
        <source>Open a study first.</source>
        <translation>请先打开一项检查。</translation>
    </message>
    <message>
        <source>No DICOM node is configured (File ▸ DICOM network…).</source>
        <translation>尚未配置 DICOM 节点（文件 ▸ DICOM 网络…）。</translation>
    </message>
    <message>
        <source>Send study to PACS</source>
        <translation>将检查发送到 PACS</translation>
    </message>
    <message>
        <source>Send to:</source>
        <translation>发送到：</translation>
    </message>
    <message>
        <source>{0} file(s) sent to {1}; {2} not sent.</source>
        <translation>已向 {1} 发送 {0} 个文件；{2} 个未发送。</translation>
    </message>
    <message>
        <source>Loading {0} images…</source>
        <translation>正在加载 {0} 幅图像…</translation>
    </message>
    <message>
        <source>Loading images: {0:.0%}</source>
        <translation>正在加载图像：{0:.0%}</translation>
    </message>
    <message>
        <source>Opened the ECG {0}.</source>
        <translation>已打开心电图 {0}。</translation>
    </message>
    <message>
        <source>Opened {0}.</source>
        <translation>已打开 {0}。</translation>
    </message>
    <message>
        <source>{0} file(s) could not be read and were skipped (see Studies).</source>
        <translation>{0} 个文件无法读取，已跳过（见“检查”）。</translation>
    </message>
    <message>
        <source>{0} series found.</source>
        <translation>找到 {0} 个序列。</translation>
    </message>
    <message>
        <source>This colour series is too large: only its first file is shown.</source>
        <translation>此彩色序列过大：仅显示其第一个文件。</translation>
    </message>
    <message>
        <source>This series mixes image sizes: its first image is shown.</source>
        <translation>此序列包含不同尺寸的图像：仅显示其第一幅图像。</translation>
    </message>
    <message>
        <source>{0} image(s) could not be decoded.</source>
        <translation>{0} 幅图像无法解码。</translation>
    </message>
    <message>
        <source>Open an image first.</source>
        <translation>请先打开一幅图像。</translation>
    </message>
    <message>
        <source>Analysis done with {0} {1}.</source>
        <translation>已使用 {0} {1} 完成分析。</translation>
    </message>
    <message>
        <source>(frame {0})</source>
        <translation>（第 {0} 帧）</translation>
    </message>
    <message>
        <source>Working…</source>
        <translation>正在处理…</translation>
    </message>
    <message>
        <source>Stethos</source>
        <translation>Stethos</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>已取消。</translation>
    </message>
</context>
<context>
    <name>MeasurementList</name>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Delete all</source>
        <translation>全部删除</translation>
    </message>
    <message>
        <source>{0}, image {1}: {2}</source>
        <translation>{0}，图像 {1}：{2}</translation>
    </message>
    <message>
        <source>Pixel size {0:g} × {1:g} mm ({2}).</source>
        <translation>像素尺寸 {0:g} × {1:g} mm（{2}）。</translation>
    </message>
    <message>
        <source>No pixel spacing.</source>
        <translation>无像素间距。</translation>
    </message>
</context>
<context>
    <name>ModelCard</name>
    <message>
        <source>Intended use</source>
        <translation>预期用途</translation>
    </message>
    <message>
        <source>Intended users</source>
        <translation>预期使用者</translation>
    </message>
    <message>
        <source>Do not use for</source>
        <translation>请勿用于</translation>
    </message>
    <message>
        <source>Output classes</source>
        <translation>输出类别</translation>
    </message>
    <message>
        <source>This result supports, and does not replace, the judgement of a qualified clinician.</source>
        <translation>此结果用于辅助而非取代合格临床医师的判断。</translation>
    </message>
    <message>
        <source>The full card, with the validation figures and limitations, follows in English.</source>
        <translation>以下为英文版完整说明卡，包括验证数据和局限性。</translation>
    </message>
</context>
<context>
    <name>ModelCardDialog</name>
    <message>
        <source>Model card — {0}</source>
        <translation>模型说明卡 — {0}</translation>
    </message>
    <message>
        <source>Reading the model card…</source>
        <translation>正在读取模型说明卡…</translation>
    </message>
    <message>
        <source>The model card cannot be shown: {0}</source>
        <translation>无法显示模型说明卡：{0}</translation>
    </message>
</context>
<context>
    <name>ModelCardsDialog</name>
    <message>
        <source>Model cards</source>
        <translation>模型说明卡</translation>
    </message>
    <message>
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>No model is installed.</source>
        <translation>未安装任何模型。</translation>
    </message>
    <message>
        <source>Checking and reading the model card…</source>
        <translation>正在校验并读取模型说明卡…</translation>
    </message>
</context>
<context>
    <name>NewPatientDialog</name>
    <message>
        <source>New patient</source>
        <translation>新建患者</translation>
    </message>
    <message>
        <source>Register a patient.</source>
        <translation>登记一位患者。</translation>
    </message>
    <message>
        <source>YYYY-MM-DD (blank if unknown)</source>
        <translation>年-月-日（未知则留空）</translation>
    </message>
    <message>
        <source>— choose —</source>
        <translation>— 请选择 —</translation>
    </message>
    <message>
        <source>Female</source>
        <translation>女</translation>
    </message>
    <message>
        <source>Male</source>
        <translation>男</translation>
    </message>
    <message>
        <source>Other</source>
        <translation>其他</translation>
    </message>
    <message>
        <source>Unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>Medical record number (MRN):</source>
        <translation>病历号：</translation>
    </message>
    <message>
        <source>Family name:</source>
        <translation>姓：</translation>
    </message>
    <message>
        <source>Given name:</source>
        <translation>名：</translation>
    </message>
    <message>
        <source>Birth date:</source>
        <translation>出生日期：</translation>
    </message>
    <message>
        <source>Sex:</source>
        <translation>性别：</translation>
    </message>
    <message>
        <source>The MRN and the family name are required.</source>
        <translation>病历号和姓为必填项。</translation>
    </message>
    <message>
        <source>Choose the patient&apos;s sex (Unknown if it is not known).</source>
        <translation>请选择患者性别（不知道时选“未知”）。</translation>
    </message>
</context>
<context>
    <name>NodesDialog</name>
    <message>
        <source>DICOM network</source>
        <extracomment>The address to listen on (&quot;&quot;: every interface of this workstation). Every file received since the service started, by study (so a study that grows is shown whole without asking the cache&apos;s index on the UI thread).</extracomment>
        <translation>DICOM 网络</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>AE title@host:port</source>
        <translation>AE 标题@主机:端口</translation>
    </message>
    <message>
        <source>May store</source>
        <translation>可存储</translation>
    </message>
    <message>
        <source>Verified</source>
        <translation>验证</translation>
    </message>
    <message>
        <source>name, e.g. pacs</source>
        <translation>名称，例如 pacs</translation>
    </message>
    <message>
        <source>PACS@10.0.0.5:104</source>
        <translation>PACS@10.0.0.5:104</translation>
    </message>
    <message>
        <source>CA file: talk TLS to this node (optional)</source>
        <translation>CA 文件：与此节点通过 TLS 通信（可选）</translation>
    </message>
    <message>
        <source>DICOMweb URL, e.g. http://10.0.0.5:8042/dicom-web (optional)</source>
        <translation>DICOMweb 地址，例如 http://10.0.0.5:8042/dicom-web（可选）</translation>
    </message>
    <message>
        <source>may store to this workstation</source>
        <translation>可向本工作站存储</translation>
    </message>
    <message>
        <source>Add node</source>
        <translation>添加节点</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Verify</source>
        <translation>验证</translation>
    </message>
    <message>
        <source>certificate file (PEM): receive over TLS only</source>
        <translation>证书文件（PEM）：仅通过 TLS 接收</translation>
    </message>
    <message>
        <source>its private key file (PEM)</source>
        <translation>其私钥文件（PEM）</translation>
    </message>
    <message>
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <source>Receive studies sent to this workstation</source>
        <translation>接收发送到本工作站的检查</translation>
    </message>
    <message>
        <source>This workstation&apos;s AE title:</source>
        <translation>本工作站的 AE 标题：</translation>
    </message>
    <message>
        <source>Listening port:</source>
        <translation>监听端口：</translation>
    </message>
    <message>
        <source>TLS certificate:</source>
        <translation>TLS 证书：</translation>
    </message>
    <message>
        <source>TLS key:</source>
        <translation>TLS 私钥：</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <source>Node {0} added.</source>
        <translation>已添加节点 {0}。</translation>
    </message>
    <message>
        <source>Choose a node to verify.</source>
        <translation>请选择要验证的节点。</translation>
    </message>
    <message>
        <source>Verifying {0}…</source>
        <translation>正在验证 {0}…</translation>
    </message>
    <message>
        <source>connected in {0:.0f} ms</source>
        <translation>已连接，用时 {0:.0f} ms</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Saved: {0} on port {1}, TLS.</source>
        <translation>已保存：{0}，端口 {1}，TLS。</translation>
    </message>
    <message>
        <source>Saved: {0} on port {1}.</source>
        <translation>已保存：{0}，端口 {1}。</translation>
    </message>
    <message>
        <source>Not receiving.</source>
        <translation>未在接收。</translation>
    </message>
</context>
<context>
    <name>OverrideDialog</name>
    <message>
        <source>Override result</source>
        <translation>否决结果</translation>
    </message>
    <message>
        <source>Say why you do not follow this result. The comment is kept with it.</source>
        <translation>请说明您不采纳此结果的原因。该备注将与结果一起保存。</translation>
    </message>
    <message>
        <source>A comment is required to override a result.</source>
        <translation>否决结果时必须填写备注。</translation>
    </message>
</context>
<context>
    <name>PatientController</name>
    <message>
        <source>&amp;Sign in…</source>
        <translation>登录(&amp;S)…</translation>
    </message>
    <message>
        <source>Sign &amp;out</source>
        <translation>退出登录(&amp;O)</translation>
    </message>
    <message>
        <source>&amp;Change password…</source>
        <translation>修改密码(&amp;C)…</translation>
    </message>
    <message>
        <source>&amp;Users…</source>
        <translation>用户(&amp;U)…</translation>
    </message>
    <message>
        <source>&amp;New patient…</source>
        <extracomment>The timeline shown (``None`` when no patient is).</extracomment>
        <translation>新建患者(&amp;N)…</translation>
    </message>
    <message>
        <source>Save &amp;record</source>
        <extracomment>The result saved last. The record saved last (a record analysis of the same values refers to it). Intended use per model id of the analyses made in this window.</extracomment>
        <translation>保存记录(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Link study to patient</source>
        <translation>将检查关联到患者(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Report of encounter…</source>
        <extracomment>The report written last.</extracomment>
        <translation>就诊报告(&amp;R)…</translation>
    </message>
    <message>
        <source>Export &amp;report…</source>
        <translation>导出报告(&amp;R)…</translation>
    </message>
    <message>
        <source>&amp;Patient</source>
        <translation>患者(&amp;P)</translation>
    </message>
    <message>
        <source>Patients</source>
        <extracomment>``None`` when the configured database cannot be used (``store_problem`` says why): then nobody signs in, and nothing falls back to another database.</extracomment>
        <translation>患者</translation>
    </message>
    <message>
        <source>Save record</source>
        <translation>保存记录</translation>
    </message>
    <message>
        <source>Accept</source>
        <translation>接受</translation>
    </message>
    <message>
        <source>Override…</source>
        <translation>否决…</translation>
    </message>
    <message>
        <source>Link to patient</source>
        <translation>关联到患者</translation>
    </message>
    <message>
        <source>&amp;Set up…</source>
        <translation>初始设置(&amp;S)…</translation>
    </message>
    <message>
        <source>Accepted by {0}.</source>
        <translation>已由 {0} 接受。</translation>
    </message>
    <message>
        <source>Overridden by {0}: {1}</source>
        <translation>已由 {0} 否决：{1}</translation>
    </message>
    <message>
        <source>Database setting unusable: patients are off</source>
        <translation>数据库设置无法使用：患者功能已关闭</translation>
    </message>
    <message>
        <source>Not signed in</source>
        <translation>未登录</translation>
    </message>
    <message>
        <source>Signed in: {0}</source>
        <translation>已登录：{0}</translation>
    </message>
    <message>
        <source>Stethos</source>
        <translation>Stethos</translation>
    </message>
    <message>
        <source>The clinic database cannot be reached (the server is down or the network is cut), so this was not saved. What you entered is still here: save it again when the database is back. Stethos reconnects by itself; viewing and analysing go on meanwhile.</source>
        <translation>无法连接诊所数据库（服务器已停止或网络已断开），因此未能保存。您输入的内容仍保留在此：数据库恢复后请再次保存。Stethos 会自动重新连接；在此期间仍可继续查看和分析。</translation>
    </message>
    <message>
        <source>Clinic database unreachable: not saved</source>
        <translation>无法连接诊所数据库：未保存</translation>
    </message>
    <message>
        <source>Access restored for {0}; nothing stored was lost. The recovery key still works: if it may have been seen by others, make a new one (Patient ▸ Users… ▸ New recovery key…).</source>
        <translation>已恢复 {0} 的访问权限，已存储的数据均未丢失。恢复密钥仍然有效：如果它可能被他人看到，请生成新的恢复密钥（患者 ▸ 用户… ▸ 新恢复密钥…）。</translation>
    </message>
    <message>
        <source>The clinic database did not accept the password saved on this workstation; IT may have changed it. Enter the current one.</source>
        <translation>诊所数据库未接受此工作站上保存的密码；IT 可能已更改该密码。请输入当前密码。</translation>
    </message>
    <message>
        <source>The clinic database did not accept this database password. Check it with IT and enter it again.</source>
        <translation>诊所数据库未接受此数据库密码。请向 IT 核实后重新输入。</translation>
    </message>
    <message>
        <source>The clinic database cannot be reached: the server is down or the network is cut. Try again in a moment; tell IT if it goes on.</source>
        <translation>无法连接诊所数据库：服务器已停止或网络已中断。请稍后重试；如果问题持续，请告知 IT。</translation>
    </message>
    <message>
        <source>Signed in as {0}.</source>
        <translation>已以 {0} 身份登录。</translation>
    </message>
    <message>
        <source>Signed out.</source>
        <translation>已退出登录。</translation>
    </message>
    <message>
        <source>Your password was changed.</source>
        <translation>您的密码已修改。</translation>
    </message>
    <message>
        <source>The account was added.</source>
        <translation>账户已添加。</translation>
    </message>
    <message>
        <source>{0} must choose a new password at the next sign-in.</source>
        <translation>{0} 下次登录时必须设置新密码。</translation>
    </message>
    <message>
        <source>{0} can no longer sign in.</source>
        <translation>{0} 已无法再登录。</translation>
    </message>
    <message>
        <source>A new recovery key was made.</source>
        <translation>已生成新的恢复密钥。</translation>
    </message>
    <message>
        <source>The MRN (patient identifier) is required.</source>
        <translation>病历号（患者标识）为必填项。</translation>
    </message>
    <message>
        <source>The MRN must have at most 64 characters.</source>
        <translation>病历号最多 64 个字符。</translation>
    </message>
    <message>
        <source>The family name is required.</source>
        <translation>姓为必填项。</translation>
    </message>
    <message>
        <source>Sex must be Female, Male, Other or Unknown.</source>
        <translation>性别必须为女、男、其他或未知。</translation>
    </message>
    <message>
        <source>The birth date must be a date (YYYY-MM-DD).</source>
        <translation>出生日期必须是日期（YYYY-MM-DD）。</translation>
    </message>
    <message>
        <source>The birth date cannot be in the future.</source>
        <translation>出生日期不能晚于今天。</translation>
    </message>
    <message>
        <source>The birth date is before 1880.</source>
        <translation>出生日期早于 1880 年。</translation>
    </message>
    <message>
        <source>Another patient already has this MRN.</source>
        <translation>已有其他患者使用此病历号。</translation>
    </message>
    <message>
        <source>Nothing was saved.</source>
        <translation>未保存任何内容。</translation>
    </message>
    <message>
        <source>Changes to {0} saved (version {1}).</source>
        <translation>已保存对 {0} 的修改（版本 {1}）。</translation>
    </message>
    <message>
        <source>Nothing was changed.</source>
        <translation>没有任何修改。</translation>
    </message>
    <message>
        <source>Female</source>
        <translation>女</translation>
    </message>
    <message>
        <source>Male</source>
        <translation>男</translation>
    </message>
    <message>
        <source>Other</source>
        <translation>其他</translation>
    </message>
    <message>
        <source>Unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>registered</source>
        <translation>登记</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>MRN {0} · {1} · born {2} · {3}</source>
        <translation>病历号 {0} · {1} · 出生 {2} · {3}</translation>
    </message>
    <message>
        <source>History of {0}</source>
        <translation>{0} 的历史记录</translation>
    </message>
    <message>
        <source>Every version of this patient&apos;s identifying data, newest first.</source>
        <translation>此患者身份信息的所有版本，最新的在前。</translation>
    </message>
    <message>
        <source>no values</source>
        <translation>无数值</translation>
    </message>
    <message>
        <source>Changed: {0}</source>
        <translation>修改：{0}</translation>
    </message>
    <message>
        <source>History of the record</source>
        <translation>记录的历史</translation>
    </message>
    <message>
        <source>Every version of this record, newest first. Earlier values are never lost.</source>
        <translation>此记录的所有版本，最新的在前。之前的数值永不丢失。</translation>
    </message>
    <message>
        <source>Records of this kind cannot be edited here.</source>
        <translation>此类记录无法在此编辑。</translation>
    </message>
    <message>
        <source>Record corrected (version {0}).</source>
        <translation>记录已更正（版本 {0}）。</translation>
    </message>
    <message>
        <source>Sign in (Patient ▸ Sign in…) to keep patient data.</source>
        <translation>请先登录（患者 ▸ 登录…）以保存患者数据。</translation>
    </message>
    <message>
        <source>Select or create a patient in the Patients list first.</source>
        <translation>请先在患者列表中选择或新建一位患者。</translation>
    </message>
    <message>
        <source>The record was not saved. Correct these values first:</source>
        <translation>记录未保存。请先更正以下数值：</translation>
    </message>
    <message>
        <source>Heart-disease risk record</source>
        <translation>心脏病风险记录</translation>
    </message>
    <message>
        <source>Record saved for {0}.</source>
        <translation>已为 {0} 保存记录。</translation>
    </message>
    <message>
        <source>Analysis</source>
        <translation>分析</translation>
    </message>
    <message>
        <source>Result of {0} {1} saved for {2}.</source>
        <translation>已为 {2} 保存 {0} {1} 的结果。</translation>
    </message>
    <message>
        <source>The study was linked, but check it: {0}</source>
        <translation>检查已关联，但请核对：{0}</translation>
    </message>
    <message>
        <source>Study linked to {0}.</source>
        <translation>检查已关联到 {0}。</translation>
    </message>
    <message>
        <source>This patient has no encounter yet: save a record first.</source>
        <translation>该患者尚无就诊：请先保存一条记录。</translation>
    </message>
    <message>
        <source>Export report</source>
        <translation>导出报告</translation>
    </message>
    <message>
        <source>PDF documents (*.pdf)</source>
        <translation>PDF 文档 (*.pdf)</translation>
    </message>
    <message>
        <source>This encounter cannot be found.</source>
        <translation>找不到该次就诊。</translation>
    </message>
    <message>
        <source>&amp;Print report…</source>
        <translation>打印报告(&amp;P)…</translation>
    </message>
    <message>
        <source>Sign in first (Patient ▸ Sign in…), then choose a patient.</source>
        <extracomment>Printer and dialog for printing (tests replace the dialog step).</extracomment>
        <translation>请先登录（患者 ▸ 登录…），然后选择一位患者。</translation>
    </message>
    <message>
        <source>Choose a patient in the Patients dock first.</source>
        <translation>请先在“患者”面板中选择一位患者。</translation>
    </message>
    <message>
        <source>Write the PDF report of an encounter.</source>
        <translation>生成一次就诊的 PDF 报告。</translation>
    </message>
    <message>
        <source>Print the report of an encounter.</source>
        <translation>打印一次就诊的报告。</translation>
    </message>
    <message>
        <source>Print report</source>
        <translation>打印报告</translation>
    </message>
    <message>
        <source>Report sent to {0}.</source>
        <translation>报告已发送至 {0}。</translation>
    </message>
    <message>
        <source>The report could not be written to {0}: {1}</source>
        <translation>无法将报告写入 {0}：{1}</translation>
    </message>
    <message>
        <source>Report written to {0}.</source>
        <translation>报告已写入 {0}。</translation>
    </message>
    <message>
        <source>Writing the report to {0}…</source>
        <translation>正在将报告写入 {0}…</translation>
    </message>
    <message>
        <source>beats labelled by {0} {1}</source>
        <translation>心搏由 {0} {1} 标注</translation>
    </message>
    <message>
        <source>{0} Hz</source>
        <translation>{0} 赫兹</translation>
    </message>
    <message>
        <source>file missing</source>
        <translation>文件缺失</translation>
    </message>
    <message>
        <source>ECG not available: {0} ({1})</source>
        <translation>心电图不可用：{0}（{1}）</translation>
    </message>
    <message>
        <source>Image not available: {0} ({1})</source>
        <translation>图像不可用：{0}（{1}）</translation>
    </message>
    <message>
        <source>first {0:g} s</source>
        <translation>前 {0:g} 秒</translation>
    </message>
    <message>
        <source>&amp;Back up database…</source>
        <translation>备份数据库(&amp;B)…</translation>
    </message>
    <message>
        <source>A checked copy of this workstation&apos;s patient database, its key file and audit anchor, in a new folder; safe while Stethos is in use.</source>
        <translation>将本工作站的患者数据库、其密钥文件和审计锚点复制到一个新文件夹并加以检查；Stethos 使用中也可安全进行。</translation>
    </message>
    <message>
        <source>Choose where to keep the backup</source>
        <translation>选择备份的存放位置</translation>
    </message>
    <message>
        <source>Backing up the database…</source>
        <translation>正在备份数据库…</translation>
    </message>
    <message>
        <source>Database backed up</source>
        <translation>数据库已备份</translation>
    </message>
    <message>
        <source>The database was copied to {0} and the copy checked: it opens, SQLite finds it intact, and its audit trail (entries 1 to {1}) verifies.

Keep the folder with the clinic&apos;s backups. To restore it: close Stethos and run stethos-engine store restore --from &quot;{0}&quot; --user (an administrator); a password or the recovery key valid on the day of the backup opens it.</source>
        <translation>数据库已复制到 {0}，副本已检查：可以打开，SQLite 认定其完整，审计记录（第 1 至 {1} 条）校验通过。

请将该文件夹与诊所的其他备份一同保存。恢复方法：关闭 Stethos，运行 stethos-engine store restore --from &quot;{0}&quot; --user （管理员用户名）；备份当天有效的密码或恢复密钥可以打开它。</translation>
    </message>
    <message>
        <source>Backup failed</source>
        <translation>备份失败</translation>
    </message>
    <message>
        <source>The database was not backed up: {0}</source>
        <translation>数据库未备份：{0}</translation>
    </message>
</context>
<context>
    <name>PatientsPanel</name>
    <message>
        <source>Search by name or MRN</source>
        <translation>按姓名或病历号搜索</translation>
    </message>
    <message>
        <source>New patient…</source>
        <translation>新建患者…</translation>
    </message>
    <message>
        <source>No patient selected.</source>
        <translation>未选择患者。</translation>
    </message>
    <message>
        <source>Edit patient…</source>
        <translation>编辑患者…</translation>
    </message>
    <message>
        <source>Patient history…</source>
        <translation>患者历史…</translation>
    </message>
    <message>
        <source>When</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>What</source>
        <translation>项目</translation>
    </message>
    <message>
        <source>Report of selected encounter…</source>
        <translation>所选就诊的报告…</translation>
    </message>
    <message>
        <source>Accept result</source>
        <translation>接受结果</translation>
    </message>
    <message>
        <source>Override result…</source>
        <translation>否决结果…</translation>
    </message>
    <message>
        <source>Edit record…</source>
        <translation>编辑记录…</translation>
    </message>
    <message>
        <source>Record history…</source>
        <translation>记录历史…</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>&lt;b&gt;{0}&lt;/b&gt;&lt;br&gt;MRN {1} · born {2} · {3}</source>
        <translation>&lt;b&gt;{0}&lt;/b&gt;&lt;br&gt;病历号 {1} · 出生于 {2} · {3}</translation>
    </message>
    <message>
        <source>Accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <source>Overridden: {0}</source>
        <translation>已否决：{0}</translation>
    </message>
    <message>
        <source>No result (out of domain)</source>
        <translation>无结果（域外）</translation>
    </message>
    <message>
        <source>Female</source>
        <translation>女</translation>
    </message>
    <message>
        <source>Male</source>
        <translation>男</translation>
    </message>
    <message>
        <source>Other</source>
        <translation>其他</translation>
    </message>
    <message>
        <source>Unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>Result: {0}</source>
        <translation>结果：{0}</translation>
    </message>
    <message>
        <source>Study {0}</source>
        <translation>检查 {0}</translation>
    </message>
    <message>
        <source>Record (edited, version {0})</source>
        <translation>记录（已修改，第 {0} 版）</translation>
    </message>
    <message>
        <source>Encounter</source>
        <translation>就诊</translation>
    </message>
    <message>
        <source>Record</source>
        <translation>记录</translation>
    </message>
    <message>
        <source>Decision</source>
        <translation>决定</translation>
    </message>
</context>
<context>
    <name>QueryDialog</name>
    <message>
        <source>Query PACS</source>
        <extracomment>Where each series value goes in the study columns.</extracomment>
        <translation>查询 PACS</translation>
    </message>
    <message>
        <source>C-GET (this workstation asks and receives)</source>
        <extracomment>The application&apos;s running listener (a C-MOVE is received by it when it runs). The address a C-MOVE&apos;s own listener opens (&quot;&quot;: every interface of this workstation).</extracomment>
        <translation>C-GET（本工作站请求并接收）</translation>
    </message>
    <message>
        <source>C-MOVE (the PACS sends to this workstation)</source>
        <translation>C-MOVE（PACS 发送到本工作站）</translation>
    </message>
    <message>
        <source>WADO-RS (DICOMweb)</source>
        <translation>WADO-RS（DICOMweb）</translation>
    </message>
    <message>
        <source>e.g. DOE^J*</source>
        <translation>例如 王*</translation>
    </message>
    <message>
        <source>YYYYMMDD or YYYYMMDD-YYYYMMDD</source>
        <translation>YYYYMMDD 或 YYYYMMDD-YYYYMMDD</translation>
    </message>
    <message>
        <source>Node:</source>
        <translation>节点：</translation>
    </message>
    <message>
        <source>Retrieve by:</source>
        <translation>获取方式：</translation>
    </message>
    <message>
        <source>Patient ID:</source>
        <translation>患者 ID：</translation>
    </message>
    <message>
        <source>Patient name:</source>
        <translation>患者姓名：</translation>
    </message>
    <message>
        <source>Study date:</source>
        <translation>检查日期：</translation>
    </message>
    <message>
        <source>Modality:</source>
        <translation>模态：</translation>
    </message>
    <message>
        <source>Accession number:</source>
        <translation>检查号：</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Retrieve</source>
        <translation>获取</translation>
    </message>
    <message>
        <source>Search, then choose a study or a series.</source>
        <translation>请先搜索，然后选择一个检查或序列。</translation>
    </message>
    <message>
        <source>Patient name / series</source>
        <translation>患者姓名 / 序列</translation>
    </message>
    <message>
        <source>Open a study to list its series.</source>
        <translation>展开一个检查以列出其序列。</translation>
    </message>
    <message>
        <source>This node has no DICOMweb address configured.</source>
        <extracomment>Series lists come on their own runner: opening a study does not stop a retrieve.</extracomment>
        <translation>此节点未配置 DICOMweb 地址。</translation>
    </message>
    <message>
        <source>Series {0}</source>
        <translation>序列 {0}</translation>
    </message>
    <message>
        <source>Series</source>
        <translation>序列</translation>
    </message>
    <message>
        <source>Retrieve study</source>
        <translation>调取检查</translation>
    </message>
    <message>
        <source>Retrieve series</source>
        <translation>获取序列</translation>
    </message>
    <message>
        <source>Retrieve the chosen study or series into this workstation&apos;s DICOM cache.</source>
        <translation>将所选检查或序列获取到本工作站的 DICOM 缓存中。</translation>
    </message>
    <message>
        <source>Retrieving from {0}…</source>
        <translation>正在从 {0} 获取…</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Date</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>Patient ID</source>
        <translation>患者 ID</translation>
    </message>
    <message>
        <source>Modalities</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像数</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>No DICOM node is configured. An administrator adds the clinic&apos;s PACS with “stethos-engine net nodes add NAME AET@host:port”.</source>
        <translation>尚未配置 DICOM 节点。管理员可用“stethos-engine net nodes add NAME AET@host:port”添加诊所的 PACS。</translation>
    </message>
    <message>
        <source>Searching {0}…</source>
        <translation>正在搜索 {0}…</translation>
    </message>
    <message>
        <source>{0} studies found.</source>
        <translation>找到 {0} 项检查。</translation>
    </message>
    <message>
        <source>Retrieved: {0}.</source>
        <translation>已调取：{0}。</translation>
    </message>
</context>
<context>
    <name>RecordForm</name>
    <message>
        <source>* Required: {0}. Leave anything not recorded blank: the result says which inputs it was based on.</source>
        <translation>* 必填：{0}。未记录的项目请留空：结果会注明依据了哪些输入。</translation>
    </message>
    <message>
        <source>Not recorded</source>
        <translation>未记录</translation>
    </message>
    <message>
        <source>— choose —</source>
        <translation>— 请选择 —</translation>
    </message>
    <message>
        <source>The unit the value is given in</source>
        <translation>数值所用的单位</translation>
    </message>
    <message>
        <source> (blank if unknown)</source>
        <translation>（未知则留空）</translation>
    </message>
    <message>
        <source>{0}: {1} to {2} {3}</source>
        <translation>{0}：{1} 至 {2} {3}</translation>
    </message>
    <message>
        <source>{0} is required.</source>
        <translation>{0}为必填项。</translation>
    </message>
    <message>
        <source>{0} must be a number.</source>
        <translation>{0}必须是数字。</translation>
    </message>
    <message>
        <source>{0} must be a finite number.</source>
        <translation>{0}必须是有限数值。</translation>
    </message>
    <message>
        <source>{0} must be a whole number.</source>
        <translation>{0}必须是整数。</translation>
    </message>
    <message>
        <source>{0} must be one of: {1}.</source>
        <translation>{0}必须是以下之一：{1}。</translation>
    </message>
    <message>
        <source>{0} must be at least {1}.</source>
        <translation>{0}不得低于 {1}。</translation>
    </message>
    <message>
        <source>{0} must be at most {1}.</source>
        <translation>{0}不得高于 {1}。</translation>
    </message>
    <message>
        <source>Age</source>
        <translation>年龄</translation>
    </message>
    <message>
        <source>years</source>
        <translation>岁</translation>
    </message>
    <message>
        <source>Sex</source>
        <translation>性别</translation>
    </message>
    <message>
        <source>Female</source>
        <translation>女</translation>
    </message>
    <message>
        <source>Male</source>
        <translation>男</translation>
    </message>
    <message>
        <source>Chest pain type</source>
        <translation>胸痛类型</translation>
    </message>
    <message>
        <source>Typical angina</source>
        <translation>典型心绞痛</translation>
    </message>
    <message>
        <source>Atypical angina</source>
        <translation>非典型心绞痛</translation>
    </message>
    <message>
        <source>Non-anginal pain</source>
        <translation>非心绞痛性胸痛</translation>
    </message>
    <message>
        <source>Asymptomatic</source>
        <translation>无症状</translation>
    </message>
    <message>
        <source>Resting blood pressure (systolic)</source>
        <translation>静息血压（收缩压）</translation>
    </message>
    <message>
        <source>mmHg</source>
        <translation>mmHg</translation>
    </message>
    <message>
        <source>kPa</source>
        <translation>kPa</translation>
    </message>
    <message>
        <source>Serum cholesterol</source>
        <translation>血清胆固醇</translation>
    </message>
    <message>
        <source>mg/dL</source>
        <translation>mg/dL</translation>
    </message>
    <message>
        <source>mmol/L</source>
        <translation>mmol/L</translation>
    </message>
    <message>
        <source>Fasting blood sugar &gt; 120 mg/dL</source>
        <translation>空腹血糖 &gt; 120 mg/dL</translation>
    </message>
    <message>
        <source>No</source>
        <translation>否</translation>
    </message>
    <message>
        <source>Yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>Resting ECG</source>
        <translation>静息心电图</translation>
    </message>
    <message>
        <source>Normal</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>ST-T wave abnormality</source>
        <translation>ST-T 波异常</translation>
    </message>
    <message>
        <source>Probable/definite LV hypertrophy (Estes)</source>
        <translation>可能/肯定的左心室肥厚（Estes 标准）</translation>
    </message>
    <message>
        <source>Maximum heart rate on exercise</source>
        <translation>运动时最大心率</translation>
    </message>
    <message>
        <source>bpm</source>
        <translation>次/分</translation>
    </message>
    <message>
        <source>Exercise-induced angina</source>
        <translation>运动诱发心绞痛</translation>
    </message>
    <message>
        <source>ST depression on exercise vs rest</source>
        <translation>运动相对静息的 ST 段压低</translation>
    </message>
    <message>
        <source>mm</source>
        <translation>mm</translation>
    </message>
    <message>
        <source>mV</source>
        <translation>mV</translation>
    </message>
    <message>
        <source>Slope of peak exercise ST segment</source>
        <translation>运动峰值 ST 段斜率</translation>
    </message>
    <message>
        <source>Upsloping</source>
        <translation>上斜型</translation>
    </message>
    <message>
        <source>Flat</source>
        <translation>水平型</translation>
    </message>
    <message>
        <source>Downsloping</source>
        <translation>下斜型</translation>
    </message>
    <message>
        <source>Major vessels coloured by fluoroscopy</source>
        <translation>透视显影的主要血管数</translation>
    </message>
    <message>
        <source>vessels</source>
        <translation>支</translation>
    </message>
    <message>
        <source>Thallium stress test</source>
        <translation>铊负荷试验</translation>
    </message>
    <message>
        <source>Fixed defect</source>
        <translation>固定性缺损</translation>
    </message>
    <message>
        <source>Reversible defect</source>
        <translation>可逆性缺损</translation>
    </message>
    <message>
        <source>not recorded</source>
        <translation>未记录</translation>
    </message>
</context>
<context>
    <name>RecoverAccessDialog</name>
    <message>
        <source>Recover access</source>
        <translation>恢复访问</translation>
    </message>
    <message>
        <source>Type the recovery key printed when this workstation was set up, the user whose access is restored (usually the administrator) and a new password. Nothing stored is lost.</source>
        <translation>请输入设置本工作站时打印的恢复密钥、要恢复访问权限的用户（通常为管理员）以及新密码。已存储的数据不会丢失。</translation>
    </message>
    <message>
        <source>8 groups of 4 letters and digits</source>
        <translation>8 组，每组 4 个字母或数字</translation>
    </message>
    <message>
        <source>Recovery key:</source>
        <translation>恢复密钥：</translation>
    </message>
    <message>
        <source>User name:</source>
        <translation>用户名：</translation>
    </message>
    <message>
        <source>New password:</source>
        <translation>新密码：</translation>
    </message>
    <message>
        <source>Repeat new password:</source>
        <translation>再次输入新密码：</translation>
    </message>
    <message>
        <source>Restore access</source>
        <translation>恢复访问</translation>
    </message>
    <message>
        <source>Enter the recovery key and the user name.</source>
        <translation>请输入恢复密钥和用户名。</translation>
    </message>
    <message>
        <source>The two passwords differ. Type them again.</source>
        <translation>两次输入的密码不一致。请重新输入。</translation>
    </message>
</context>
<context>
    <name>RecoveryKeyDialog</name>
    <message>
        <source>Recovery key</source>
        <translation>恢复密钥</translation>
    </message>
    <message>
        <source>Write this recovery key down on paper and keep it locked away. It is shown only now. If every password is lost, it is the only way to open the patient database again.</source>
        <translation>请把此恢复密钥抄写在纸上并锁好保管。它只显示这一次。如果所有密码都丢失，它是重新打开患者数据库的唯一方法。</translation>
    </message>
    <message>
        <source>Print or copy it now: the previous recovery key no longer opens the database.</source>
        <translation>请立即打印或复制：之前的恢复密钥已无法再打开数据库。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>I have written it down</source>
        <translation>我已抄写下来</translation>
    </message>
</context>
<context>
    <name>ResultPanel</name>
    <message>
        <source>This result supports, and does not replace, the judgement of a qualified clinician.</source>
        <translation>此结果用于辅助而非取代合格临床医师的判断。</translation>
    </message>
    <message>
        <source>log-odds</source>
        <translation>对数几率</translation>
    </message>
    <message>
        <source>probability</source>
        <translation>概率</translation>
    </message>
    <message>
        <source>modality</source>
        <extracomment>What a gate names when an input does not record it (engine.models.gates.DESCRIBE).</extracomment>
        <translation>模态</translation>
    </message>
    <message>
        <source>view position</source>
        <translation>体位</translation>
    </message>
    <message>
        <source>presentation intent</source>
        <translation>呈现意图</translation>
    </message>
    <message>
        <source>body part</source>
        <translation>检查部位</translation>
    </message>
    <message>
        <source>photometric interpretation</source>
        <translation>光度解释</translation>
    </message>
    <message>
        <source>sampling rate</source>
        <translation>采样率</translation>
    </message>
    <message>
        <source>leads</source>
        <translation>导联</translation>
    </message>
    <message>
        <source>duration</source>
        <translation>时长</translation>
    </message>
    <message>
        <source>image size</source>
        <translation>图像尺寸</translation>
    </message>
    <message>
        <source>patient&apos;s age</source>
        <translation>患者年龄</translation>
    </message>
    <message>
        <source>{0} s of lead {1} of “{2}” hold no signal ({3} stretch(es) of missing samples or a perfectly flat line: lead off or a recorder fault): no beat is found there and no pause or heart rate is taken across them; read the trace there and around them.</source>
        <translation>“{2}”的 {1} 导联有 {0} 秒无信号（{3} 段缺失采样或完全平直的直线：导联脱落或记录仪故障）：这些片段中不检测心搏，跨越它们不计算停搏和心率；请阅读这些片段及其前后的波形。</translation>
    </message>
    <message>
        <source>{0} possible pause(s) over 2 s on lead {1} of “{2}” were not confirmed: lead {3} shows heartbeats in them (the rhythm lead lost its amplitude or was noisy there). They are listed apart and not counted as pauses; read the trace there.</source>
        <translation>“{2}”的 {1} 导联上有 {0} 处超过 2 秒的可能停搏未被确认：{3} 导联在其中显示有心搏（节律导联在该处振幅丢失或有噪声）。它们单独列出，不计为停搏；请阅读该处的波形。</translation>
    </message>
    <message>
        <source>Model “{0}” reads “{1}” as too noisy to name its rhythm: the heart rate, pauses and ectopic counts of its report come from what the QRS detector found in the noise; read the trace, and record again if you can.</source>
        <translation>模型“{0}”认为“{1}”噪声过多，无法判定其心律：报告中的心率、停搏和异位搏动计数来自 QRS 检测器在噪声中找到的波形；请阅读原始波形，如有可能请重新记录。</translation>
    </message>
    <message>
        <source>{0} s ({1}) of lead {2} of “{3}” look like noise rather than separate heartbeats (lead off, artefact, flutter, a very fast rhythm, or T waves as tall as narrow QRS complexes): the beats, heart rate, pauses and ectopic counts found there are unreliable; read the trace there.</source>
        <translation>“{3}”的导联 {2} 中有 {0} 秒（{1}）看起来像噪声，而非可分辨的心搏（导联脱落、伪差、扑动、极快的心律，或 T 波与窄 QRS 波群一样高）：在这些位置找到的心搏、心率、停搏和异位搏动计数不可靠；请阅读该处的原始波形。</translation>
    </message>
    <message>
        <source>The QRS amplitude of lead {0} of “{1}” ({2} mV) lies outside the amplitudes model “{3}” was trained on ({4}–{5} mV): its beats were scaled ×{6} for the model. Low-voltage QRS, another lead or a wrong gain in the file can cause this; check the trace&apos;s calibration before relying on V and S labels.</source>
        <translation>“{1}”的导联 {0} 的 QRS 波幅（{2} mV）超出模型“{3}”训练时所见的范围（{4}–{5} mV）：其心搏已按 ×{6} 缩放后送入模型。低电压 QRS、其他导联或文件中的增益错误都可能导致这种情况；在依赖 V 和 S 标记之前，请检查描记的定标。</translation>
    </message>
    <message>
        <source>{0} of “{1}” ({2} of {3} 10-s stretches) looks like noise rather than separate heartbeats (lead off, artefact, flutter, a very fast rhythm, or T waves as tall as narrow QRS complexes): beat labels there are unreliable; read the trace.</source>
        <translation>“{1}”的 {0}（{3} 个 10 秒片段中的 {2} 个）看起来像噪声，而非可分辨的心搏（导联脱落、伪差、扑动、极快的心律，或 T 波与窄 QRS 波群一样高）：这些片段中的心搏标签不可靠；请阅读原始波形。</translation>
    </message>
    <message>
        <source>“{0}” does not record its {1}; check that it is what model “{2}” was made for.</source>
        <translation>“{0}”未记录{1}；请确认它是模型“{2}”适用的输入。</translation>
    </message>
    <message>
        <source>No analysis yet</source>
        <extracomment>The clinician chose to see an out-of-domain image&apos;s score (the Prediction).</extracomment>
        <translation>尚未分析</translation>
    </message>
    <message>
        <source>Model card…</source>
        <translation>模型说明卡…</translation>
    </message>
    <message>
        <source>Show the score anyway</source>
        <translation>仍然显示分数</translation>
    </message>
    <message>
        <source>Show as a table</source>
        <translation>以表格显示</translation>
    </message>
    <message>
        <source>Finding</source>
        <translation>检查项</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>Effect on risk (log-odds)</source>
        <translation>对风险的影响（对数几率）</translation>
    </message>
    <message>
        <source>Beat class</source>
        <translation>心搏类别</translation>
    </message>
    <message>
        <source>Beats</source>
        <translation>心搏数</translation>
    </message>
    <message>
        <source>Share</source>
        <translation>占比</translation>
    </message>
    <message>
        <source>Model: {0}
Id: {1} · version {2} · weights {3}… · device {4} · {5:.0f} ms</source>
        <translation>模型：{0}
标识：{1} · 版本 {2} · 权重 {3}… · 设备 {4} · {5:.0f} ms</translation>
    </message>
    <message>
        <source>Intended use: {0}</source>
        <translation>预期用途：{0}</translation>
    </message>
    <message>
        <source>No result for this image</source>
        <translation>此图像无结果</translation>
    </message>
    <message>
        <source>This image looks unlike the images this model was validated on; no result is given. (Out-of-domain check: combined score {0:.2f}, threshold {1:.2f}; appearance score {2:.1f}, adult-likeness {3:.1f}.)</source>
        <translation>此图像与本模型验证时所用的图像不同；不给出结果。（域外检查：综合分数 {0:.2f}，阈值 {1:.2f}；外观分数 {2:.1f}，成人相似度 {3:.1f}。）</translation>
    </message>
    <message>
        <source>This image looks unlike the images this model was validated on; no result is given. (Out-of-domain check: appearance score {0:.1f}, threshold {1:.1f}.)</source>
        <translation>此图像与本模型验证时所用的图像不同；不给出结果。（域外检查：外观分数 {0:.1f}，阈值 {1:.1f}。）</translation>
    </message>
    <message>
        <source>No result does not mean the image is normal: read it without the model.</source>
        <translation>无结果不代表图像正常：请不借助模型阅片。</translation>
    </message>
    <message>
        <source>Shown on request: probability of {0} {1:.1%}; the model would say &lt;b&gt;{2}&lt;/b&gt;. Not validated for images like this one.</source>
        <translation>应要求显示：{0} 的概率 {1:.1%}；模型会判为 &lt;b&gt;{2}&lt;/b&gt;。对这类图像未经验证。</translation>
    </message>
    <message>
        <source>Probability of {0}: {1:.1%}</source>
        <translation>{0} 的概率：{1:.1%}</translation>
    </message>
    <message>
        <source>POSITIVE</source>
        <translation>阳性</translation>
    </message>
    <message>
        <source>negative</source>
        <translation>阴性</translation>
    </message>
    <message>
        <source>Result at the operating point: &lt;b&gt;{0}&lt;/b&gt; ({1})</source>
        <translation>操作点处的结果：&lt;b&gt;{0}&lt;/b&gt;（{1}）</translation>
    </message>
    <message>
        <source>Rhythm: {0}</source>
        <translation>节律：{0}</translation>
    </message>
    <message>
        <source>Probability of AF {0:.1%} (the mean of the recording&apos;s {1} windows of 30 s); AF burden {2:.1%}. The rhythm report is in the Rhythm tab.</source>
        <translation>房颤概率 {0:.1%}（记录中 {1} 个 30 秒窗口的平均值）；房颤负荷 {2:.1%}。节律报告见“节律”标签页。</translation>
    </message>
    <message>
        <source>Probability of AF {0:.1%}; AF burden {1:.1%}. The rhythm report is in the Rhythm tab.</source>
        <translation>房颤概率 {0:.1%}；房颤负荷 {1:.1%}。节律报告见“节律”标签页。</translation>
    </message>
    <message>
        <source>From {0} to {1}, the stretch the features below describe, {2} of {3} beat-to-beat RR changes exceed 10 % of the median RR; those intervals are shaded on the strip (Show attributions).</source>
        <translation>在 {0} 至 {1}（下方特征所描述的片段）中，{3} 次逐搏 RR 变化里有 {2} 次超过中位 RR 的 10 %；这些 RR 间期在条图上以阴影标出（“显示归因”）。</translation>
    </message>
    <message>
        <source>Operating point “{0}”: on validation, sensitivity for {1} {2:.0%}; specificity is not reported for this model.</source>
        <translation>操作点“{0}”：验证集上 {1} 的灵敏度为 {2:.0%}；此模型未报告特异度。</translation>
    </message>
    <message>
        <source>Operating point “{0}”: threshold {1:.3f}; on validation sensitivity {2:.0%} (95 % CI {3:.0%}–{4:.0%}), specificity {5:.0%} (95 % CI {6:.0%}–{7:.0%}).</source>
        <translation>工作点“{0}”：阈值 {1:.3f}；验证中灵敏度 {2:.0%}（95% CI {3:.0%}–{4:.0%}），特异度 {5:.0%}（95% CI {6:.0%}–{7:.0%}）。</translation>
    </message>
    <message>
        <source>Operating point “{0}”: threshold {1:.3f}; on validation sensitivity {2:.0%}, specificity {3:.0%}.</source>
        <translation>操作点“{0}”：阈值 {1:.3f}；验证集上灵敏度 {2:.0%}，特异度 {3:.0%}。</translation>
    </message>
    <message>
        <source>Validation: {0}.</source>
        <translation>验证方式：{0}。</translation>
    </message>
    <message>
        <source>Effect on risk ({0})</source>
        <translation>对风险的影响（{0}）</translation>
    </message>
    <message>
        <source>ECG: {0} beats classified</source>
        <translation>心电图：已分类 {0} 个心搏</translation>
    </message>
    <message>
        <source>&lt;b&gt;{0} {1} beats&lt;/b&gt; ({2}) found; review them in the beat list.</source>
        <translation>发现 &lt;b&gt;{0} 个 {1} 心搏&lt;/b&gt;（{2}）；请在心搏列表中复核。</translation>
    </message>
    <message>
        <source>No {0} beats ({1}) found.</source>
        <translation>未发现 {0} 心搏（{1}）。</translation>
    </message>
    <message>
        <source>Based on {0} of {1} inputs</source>
        <translation>依据 {1} 项输入中的 {0} 项</translation>
    </message>
    <message>
        <source>; not recorded: {0}.</source>
        <translation>；未记录：{0}。</translation>
    </message>
    <message>
        <source> (complete record).</source>
        <translation>（完整记录）。</translation>
    </message>
    <message>
        <source>Validated for records missing these inputs: AUROC {0:.2f} (95 % CI {1:.2f}–{2:.2f}); at this operating point sensitivity {3:.0%}, specificity {4:.0%}.</source>
        <translation>在缺少这些输入的记录上验证：AUROC {0:.2f}（95% CI {1:.2f}–{2:.2f}）；在此工作点灵敏度 {3:.0%}，特异度 {4:.0%}。</translation>
    </message>
    <message>
        <source>Validated on complete records: AUROC {0:.2f} (95 % CI {1:.2f}–{2:.2f}); at this operating point sensitivity {3:.0%}, specificity {4:.0%}.</source>
        <translation>在完整记录上验证：AUROC {0:.2f}（95% CI {1:.2f}–{2:.2f}）；在此工作点灵敏度 {3:.0%}，特异度 {4:.0%}。</translation>
    </message>
    <message>
        <source>Site operating point and calibration of this model version, validated on {0} local cases ({1}, by {2}); the model&apos;s own probability was {3:.1%}.</source>
        <translation>本模型版本的本院工作点与校准，已在 {0} 例本地病例上验证（{1}，{2}）；模型自身给出的概率为 {3:.1%}。</translation>
    </message>
</context>
<context>
    <name>RhythmReport</name>
    <message>
        <source>Normal sinus rhythm</source>
        <translation>正常窦性心律</translation>
    </message>
    <message>
        <source>Atrial fibrillation or flutter</source>
        <translation>心房颤动或心房扑动</translation>
    </message>
    <message>
        <source>Another rhythm (not normal, not AF)</source>
        <translation>其他节律（非正常，非房颤）</translation>
    </message>
    <message>
        <source>Too noisy to classify</source>
        <translation>噪声过大，无法分类</translation>
    </message>
    <message>
        <source>{0:.1f} h</source>
        <translation>{0:.1f} 小时</translation>
    </message>
    <message>
        <source>{0:.0f} min</source>
        <translation>{0:.0f} 分钟</translation>
    </message>
    <message>
        <source>{0:.0f} s</source>
        <translation>{0:.0f} 秒</translation>
    </message>
    <message>
        <source>Rhythm</source>
        <translation>节律</translation>
    </message>
    <message>
        <source>AF burden</source>
        <translation>房颤负荷</translation>
    </message>
    <message>
        <source>{0:.1f} % ({1} in {2} episode(s))</source>
        <translation>{0:.1f} %（{2} 次发作，共 {1}）</translation>
    </message>
    <message>
        <source>Heart rate</source>
        <translation>心率</translation>
    </message>
    <message>
        <source>mean {0:.0f} bpm; min {1:.0f} at {2}; max {3:.0f} at {4}</source>
        <translation>平均 {0:.0f} 次/分；最低 {1:.0f}（{2}）；最高 {3:.0f}（{4}）</translation>
    </message>
    <message>
        <source>{0} (and {1} possible, not confirmed: lead {2} shows beats there)</source>
        <translation>{0}（另有 {1} 处可能停搏未确认：{2} 导联在该处显示有心搏）</translation>
    </message>
    <message>
        <source>Pauses &gt; 2 s</source>
        <translation>停搏 &gt; 2 秒</translation>
    </message>
    <message>
        <source>No signal</source>
        <translation>无信号</translation>
    </message>
    <message>
        <source>{0} in {1} stretch(es), not analysed</source>
        <translation>{0}，共 {1} 段，未分析</translation>
    </message>
    <message>
        <source>Bradycardia / tachycardia</source>
        <translation>心动过缓 / 心动过速</translation>
    </message>
    <message>
        <source>{0} / {1} episode(s)</source>
        <translation>{0} / {1} 次发作</translation>
    </message>
    <message>
        <source>Ventricular ectopy</source>
        <translation>室性异位搏动</translation>
    </message>
    <message>
        <source>Supraventricular ectopy</source>
        <translation>室上性异位搏动</translation>
    </message>
    <message>
        <source>{0} beats ({1:.2f} %); couplets {2}; runs ≥ 3: {3}; bigeminy {4}; trigeminy {5}</source>
        <translation>{0} 个心搏（{1:.2f} %）；成对 {2}；连发 ≥ 3：{3}；二联律 {4}；三联律 {5}</translation>
    </message>
    <message>
        <source>Beats classified by</source>
        <translation>心搏分类模型</translation>
    </message>
    <message>
        <source>Ectopy</source>
        <translation>异位搏动</translation>
    </message>
    <message>
        <source>not counted</source>
        <translation>未统计</translation>
    </message>
    <message>
        <source>Analysed</source>
        <translation>已分析</translation>
    </message>
    <message>
        <source>{0}, lead {1}, {2} beats</source>
        <translation>{0}，导联 {1}，{2} 个心搏</translation>
    </message>
    <message>
        <source>AF episode</source>
        <translation>房颤发作</translation>
    </message>
    <message>
        <source>Explained stretch ({0} irregular RR)</source>
        <translation>解释片段（{0} 个不规则 RR）</translation>
    </message>
    <message>
        <source>Looks like noise</source>
        <translation>疑似噪声</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>停搏</translation>
    </message>
    <message>
        <source>Possible pause (not confirmed)</source>
        <translation>可能停搏（未确认）</translation>
    </message>
    <message>
        <source>Bradycardia</source>
        <translation>心动过缓</translation>
    </message>
    <message>
        <source>Tachycardia</source>
        <translation>心动过速</translation>
    </message>
    <message>
        <source>{0} run</source>
        <translation>{0} 连发</translation>
    </message>
    <message>
        <source>{0} bigeminy</source>
        <translation>{0} 二联律</translation>
    </message>
    <message>
        <source>{0} trigeminy</source>
        <translation>{0} 三联律</translation>
    </message>
    <message>
        <source>Heart rate per minute; AF episodes shaded. Click to go there.</source>
        <translation>每分钟心率；阴影为房颤发作。点击可跳转到该处。</translation>
    </message>
    <message>
        <source>No heart-rate trend yet.</source>
        <translation>尚无心率趋势。</translation>
    </message>
    <message>
        <source>bpm</source>
        <translation>次/分</translation>
    </message>
    <message>
        <source>Run “Rhythm report” to summarise the rhythm of this recording.</source>
        <extracomment>Go to this time (seconds from the start of the recording).</extracomment>
        <translation>运行“节律报告”以总结此记录的节律。</translation>
    </message>
    <message>
        <source>Event</source>
        <translation>事件</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>持续时间</translation>
    </message>
    <message>
        <source>&lt;b&gt;Events&lt;/b&gt; (click to go there)</source>
        <translation>&lt;b&gt;事件&lt;/b&gt;（点击跳转）</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <extracomment>Version of the main window&apos;s dock layout: raise it when docks are added or renamed, so that a layout saved by an older Stethos is not restored into the new one. Allowed range of the screen calibration factor (1.0 = trust the screen&apos;s DPI). Allowed range of the inactivity lock (minutes without input before patient data is hidden).</extracomment>
        <translation>设置</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>{0:g} mm/s</source>
        <translation>{0:g} mm/s</translation>
    </message>
    <message>
        <source>{0:g} mm/mV</source>
        <translation>{0:g} mm/mV</translation>
    </message>
    <message>
        <source>Hold a ruler to the screen: the bar below should measure 50 mm. If it does not, change the factor until it does.</source>
        <translation>请将直尺贴近屏幕：下方标尺应为 50 mm。如不符，请调整系数直至相符。</translation>
    </message>
    <message>
        <source>Automatic (GPU when available)</source>
        <translation>自动（有 GPU 时使用 GPU）</translation>
    </message>
    <message>
        <source>CPU only</source>
        <translation>仅 CPU</translation>
    </message>
    <message>
        <source>NVIDIA GPU (CUDA)</source>
        <translation>NVIDIA GPU（CUDA）</translation>
    </message>
    <message>
        <source> min</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <source>After this many minutes without keyboard or mouse input, patient data is hidden until the password is typed again.</source>
        <translation>在这么多分钟内没有键盘或鼠标输入后，患者数据将被隐藏，直到再次输入密码。</translation>
    </message>
    <message>
        <source>Theme:</source>
        <translation>主题：</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <source>ECG paper speed:</source>
        <translation>心电图走纸速度：</translation>
    </message>
    <message>
        <source>ECG gain:</source>
        <translation>心电图增益：</translation>
    </message>
    <message>
        <source>Screen calibration factor:</source>
        <translation>屏幕校准系数：</translation>
    </message>
    <message>
        <source>Run models on:</source>
        <translation>模型运行设备：</translation>
    </message>
    <message>
        <source>Lock patient data after:</source>
        <translation>锁定患者数据的时间：</translation>
    </message>
    <message>
        <source>The new language is used when Stethos starts again.</source>
        <translation>新语言将在 Stethos 重新启动后生效。</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
</context>
<context>
    <name>SetupDialog</name>
    <message>
        <source>Set up patient storage</source>
        <translation>设置患者数据存储</translation>
    </message>
    <message>
        <source>No patient database exists on this workstation yet. Create the administrator account: the administrator adds the clinicians&apos; accounts. Patients, records and results are stored encrypted on this computer only.</source>
        <translation>此工作站上尚无患者数据库。请创建管理员账户：由管理员添加临床医生的账户。患者、记录和结果仅加密保存在本计算机上。</translation>
    </message>
    <message>
        <source>Administrator user name:</source>
        <translation>管理员用户名：</translation>
    </message>
    <message>
        <source>Full name:</source>
        <translation>全名：</translation>
    </message>
    <message>
        <source>Password:</source>
        <translation>密码：</translation>
    </message>
    <message>
        <source>Repeat password:</source>
        <translation>再次输入密码：</translation>
    </message>
    <message>
        <source>Enter a user name.</source>
        <translation>请输入用户名。</translation>
    </message>
    <message>
        <source>The two passwords differ. Type them again.</source>
        <translation>两次输入的密码不一致。请重新输入。</translation>
    </message>
</context>
<context>
    <name>ShortcutsDialog</name>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <source>Mouse</source>
        <translation>鼠标</translation>
    </message>
    <message>
        <source>Window / level</source>
        <translation>窗宽 / 窗位</translation>
    </message>
    <message>
        <source>Right-drag</source>
        <translation>右键拖动</translation>
    </message>
    <message>
        <source>Pan</source>
        <translation>平移</translation>
    </message>
    <message>
        <source>Middle-drag, or left-drag with Pan</source>
        <translation>中键拖动，或在平移模式下左键拖动</translation>
    </message>
    <message>
        <source>Next / previous image</source>
        <translation>下一幅 / 上一幅图像</translation>
    </message>
    <message>
        <source>Wheel</source>
        <translation>滚轮</translation>
    </message>
    <message>
        <source>Zoom</source>
        <translation>缩放</translation>
    </message>
    <message>
        <source>Ctrl+wheel (wheel on single images)</source>
        <translation>Ctrl+滚轮（单幅图像时直接滚轮）</translation>
    </message>
    <message>
        <source>Fit to window</source>
        <translation>适应窗口</translation>
    </message>
    <message>
        <source>Double-click</source>
        <translation>双击</translation>
    </message>
    <message>
        <source>Measure</source>
        <translation>测量</translation>
    </message>
    <message>
        <source>Left-drag with a measuring tool</source>
        <translation>选择测量工具后左键拖动</translation>
    </message>
    <message>
        <source>Cancel a measurement</source>
        <translation>取消测量</translation>
    </message>
    <message>
        <source>Esc</source>
        <translation>Esc</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Menu</source>
        <translation>菜单</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>操作</translation>
    </message>
    <message>
        <source>Keys</source>
        <translation>按键</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>Sign in</source>
        <translation>登录</translation>
    </message>
    <message>
        <source>Sign in to see and save patients, records and results.</source>
        <translation>登录后即可查看和保存患者、记录和结果。</translation>
    </message>
    <message>
        <source>User name:</source>
        <translation>用户名：</translation>
    </message>
    <message>
        <source>Password:</source>
        <translation>密码：</translation>
    </message>
    <message>
        <source>Forgot the password? Use the recovery key…</source>
        <translation>忘记密码？使用恢复密钥…</translation>
    </message>
    <message>
        <source>Enter your user name and password.</source>
        <translation>请输入您的用户名和密码。</translation>
    </message>
</context>
<context>
    <name>StudyBrowser</name>
    <message>
        <source>Patient / study / series</source>
        <extracomment>Thumbnail edge in pixels. Thumbnail side once a study list holds more than :data:`COMPACT_AFTER` series: a CT with dozens of reconstructions must show at least 15 of them at 1080p.</extracomment>
        <translation>患者 / 检查 / 序列</translation>
    </message>
    <message>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <source>Date</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>Open files, a folder or a DICOMDIR to list its studies.</source>
        <translation>打开文件、文件夹或 DICOMDIR 以列出其中的检查。</translation>
    </message>
    <message>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Problem</source>
        <translation>问题</translation>
    </message>
    <message>
        <source>{0} file(s) could not be read:</source>
        <translation>{0} 个文件无法读取：</translation>
    </message>
    <message>
        <source>AI result: {0}</source>
        <translation>AI 结果：{0}</translation>
    </message>
    <message>
        <source>Patient {0}</source>
        <translation>患者 {0}</translation>
    </message>
    <message>
        <source>(no name)</source>
        <translation>（无姓名）</translation>
    </message>
    <message>
        <source>Patient ID {0}, born {1}, sex {2}</source>
        <translation>患者 ID {0}，出生日期 {1}，性别 {2}</translation>
    </message>
    <message>
        <source>(study without description)</source>
        <translation>（检查无描述）</translation>
    </message>
    <message>
        <source>Accession {0}</source>
        <translation>检查号 {0}</translation>
    </message>
    <message>
        <source>(series without description)</source>
        <translation>（序列无描述）</translation>
    </message>
    <message>
        <source>Series</source>
        <translation>序列</translation>
    </message>
    <message>
        <source>Study</source>
        <translation>检查</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>尺寸</translation>
    </message>
    <message>
        <source>Ordered by</source>
        <translation>排序依据</translation>
    </message>
    <message>
        <source>Slice spacing</source>
        <translation>层间距</translation>
    </message>
    <message>
        <source>Pixel spacing</source>
        <translation>像素间距</translation>
    </message>
    <message>
        <source>Measurements</source>
        <translation>测量</translation>
    </message>
    <message>
        <source>gaps between slices</source>
        <translation>层面之间有间隙</translation>
    </message>
    <message>
        <source>non-uniform slice spacing</source>
        <translation>层间距不均匀</translation>
    </message>
    <message>
        <source>mixed orientations</source>
        <translation>方向不一致</translation>
    </message>
    <message>
        <source>duplicate images</source>
        <translation>重复图像</translation>
    </message>
    <message>
        <source>inconsistent pixel spacing</source>
        <translation>像素间距不一致</translation>
    </message>
    <message>
        <source>mixed image sizes</source>
        <translation>图像尺寸不一致</translation>
    </message>
</context>
<context>
    <name>TagBrowser</name>
    <message>
        <source>DICOM tags</source>
        <translation>DICOM 标签</translation>
    </message>
    <message>
        <source>Filter by tag, keyword or value (e.g. 0010, Spacing)</source>
        <translation>按标签、关键字或值筛选（例如 0010、Spacing）</translation>
    </message>
    <message>
        <source>Tag</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Keyword</source>
        <translation>关键字</translation>
    </message>
    <message>
        <source>VR</source>
        <translation>VR</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>Reading {0}…</source>
        <translation>正在读取 {0}…</translation>
    </message>
    <message>
        <source>{0} — {1} elements</source>
        <translation>{0} — {1} 个元素</translation>
    </message>
</context>
<context>
    <name>UnsavedRecord</name>
    <message>
        <source>Record not saved</source>
        <translation>记录未保存</translation>
    </message>
    <message>
        <source>The record in the form has not been saved for {0}.</source>
        <translation>表单中{0}的记录尚未保存。</translation>
    </message>
    <message>
        <source>Save it with “Save record” first, or close Stethos and lose what was typed.</source>
        <translation>请先用“保存记录”保存，或关闭 Stethos 并放弃已输入的内容。</translation>
    </message>
    <message>
        <source>Close without saving</source>
        <translation>不保存并关闭</translation>
    </message>
    <message>
        <source>Keep editing</source>
        <translation>继续编辑</translation>
    </message>
</context>
<context>
    <name>UsersDialog</name>
    <message>
        <source>Users</source>
        <translation>用户</translation>
    </message>
    <message>
        <source>Add a clinician&apos;s account, or give a user who forgot their password a temporary one (they choose their own at the next sign-in).</source>
        <translation>添加临床医生账户，或为忘记密码的用户设置临时密码（其下次登录时须设置自己的密码）。</translation>
    </message>
    <message>
        <source>Clinician</source>
        <translation>临床医生</translation>
    </message>
    <message>
        <source>Administrator</source>
        <translation>管理员</translation>
    </message>
    <message>
        <source>User name:</source>
        <translation>用户名：</translation>
    </message>
    <message>
        <source>Full name:</source>
        <translation>全名：</translation>
    </message>
    <message>
        <source>Role:</source>
        <translation>角色：</translation>
    </message>
    <message>
        <source>Password (temporary):</source>
        <translation>密码（临时）：</translation>
    </message>
    <message>
        <source>Add user</source>
        <translation>添加用户</translation>
    </message>
    <message>
        <source>Reset access of selected user</source>
        <translation>重置所选用户的访问权限</translation>
    </message>
    <message>
        <source>Disable selected user</source>
        <translation>停用所选用户</translation>
    </message>
    <message>
        <source>The user can no longer sign in; what they recorded stays attributed to them. Reset their access to enable the account again.</source>
        <translation>该用户将无法再登录；其记录的内容仍归属于该用户。重置其访问权限即可重新启用该账户。</translation>
    </message>
    <message>
        <source>New recovery key…</source>
        <translation>新恢复密钥…</translation>
    </message>
    <message>
        <source>Make a new recovery key (shown once); the previous one stops working.</source>
        <translation>生成新的恢复密钥（只显示一次）；之前的密钥将失效。</translation>
    </message>
    <message>
        <source>administrator</source>
        <translation>管理员</translation>
    </message>
    <message>
        <source>clinician</source>
        <translation>临床医生</translation>
    </message>
    <message>
        <source> (disabled)</source>
        <translation>（已停用）</translation>
    </message>
    <message>
        <source>Enter a user name.</source>
        <translation>请输入用户名。</translation>
    </message>
    <message>
        <source>Select a user in the list first.</source>
        <translation>请先在列表中选择一位用户。</translation>
    </message>
    <message>
        <source>Type the temporary password in the password field.</source>
        <translation>请在密码框中输入临时密码。</translation>
    </message>
</context>
<context>
    <name>ViewerPanel</name>
    <message>
        <source>Image tools</source>
        <extracomment>Slices moved by PageUp / PageDown.</extracomment>
        <translation>图像工具</translation>
    </message>
    <message>
        <source>Window presets</source>
        <translation>窗口预设</translation>
    </message>
    <message>
        <source>W/L presets</source>
        <translation>窗宽/窗位预设</translation>
    </message>
    <message>
        <source>Heat-map opacity</source>
        <translation>热力图不透明度</translation>
    </message>
    <message>
        <source>Opacity</source>
        <translation>不透明度</translation>
    </message>
    <message>
        <source> fps</source>
        <translation> 帧/秒</translation>
    </message>
    <message>
        <source>Cine speed (frames per second)</source>
        <translation>电影回放速度（帧/秒）</translation>
    </message>
    <message>
        <source>&amp;Fit to window</source>
        <translation>适应窗口(&amp;F)</translation>
    </message>
    <message>
        <source>Actual size (&amp;1:1)</source>
        <translation>实际大小(&amp;1:1)</translation>
    </message>
    <message>
        <source>Zoom &amp;in</source>
        <translation>放大(&amp;I)</translation>
    </message>
    <message>
        <source>Zoom &amp;out</source>
        <translation>缩小(&amp;O)</translation>
    </message>
    <message>
        <source>Rotate &amp;right 90°</source>
        <translation>向右旋转 90°(&amp;R)</translation>
    </message>
    <message>
        <source>Rotate &amp;left 90°</source>
        <translation>向左旋转 90°(&amp;L)</translation>
    </message>
    <message>
        <source>Flip &amp;horizontal</source>
        <translation>水平翻转(&amp;H)</translation>
    </message>
    <message>
        <source>Flip &amp;vertical</source>
        <translation>垂直翻转(&amp;V)</translation>
    </message>
    <message>
        <source>Reset &amp;view</source>
        <translation>重置视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Reset window/level</source>
        <translation>重置窗宽/窗位(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Automatic window (1–99 %)</source>
        <translation>自动窗口（1–99 %）(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Invert</source>
        <translation>反相(&amp;I)</translation>
    </message>
    <message>
        <source>&amp;Next image</source>
        <translation>下一幅图像(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Previous image</source>
        <translation>上一幅图像(&amp;P)</translation>
    </message>
    <message>
        <source>Forward {0} images</source>
        <translation>向前 {0} 幅图像</translation>
    </message>
    <message>
        <source>Back {0} images</source>
        <translation>向后 {0} 幅图像</translation>
    </message>
    <message>
        <source>&amp;First image</source>
        <translation>第一幅图像(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Last image</source>
        <translation>最后一幅图像(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Play cine</source>
        <translation>播放电影(&amp;P)</translation>
    </message>
    <message>
        <source>Cine &amp;faster</source>
        <translation>加快电影回放(&amp;F)</translation>
    </message>
    <message>
        <source>Cine &amp;slower</source>
        <translation>减慢电影回放(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Pan</source>
        <translation>平移(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Distance</source>
        <translation>距离(&amp;D)</translation>
    </message>
    <message>
        <source>&amp;Angle</source>
        <translation>角度(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Rectangle region</source>
        <translation>矩形区域(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Ellipse region</source>
        <translation>椭圆区域(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Delete measurement</source>
        <translation>删除测量(&amp;D)</translation>
    </message>
    <message>
        <source>Delete &amp;all measurements</source>
        <translation>删除全部测量(&amp;A)</translation>
    </message>
    <message>
        <source>Show &amp;overlay text</source>
        <translation>显示叠加文字(&amp;O)</translation>
    </message>
    <message>
        <source>&amp;Hide patient identity</source>
        <translation>隐藏患者身份(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;Heat map</source>
        <translation>热力图(&amp;H)</translation>
    </message>
    <message>
        <source>Show the AI relevance map over the image (H)</source>
        <translation>在图像上显示 AI 相关性图（H）</translation>
    </message>
    <message>
        <source>Lung</source>
        <translation>肺窗</translation>
    </message>
    <message>
        <source>Mediastinum</source>
        <translation>纵隔窗</translation>
    </message>
    <message>
        <source>Abdomen</source>
        <translation>腹部窗</translation>
    </message>
    <message>
        <source>Bone</source>
        <translation>骨窗</translation>
    </message>
    <message>
        <source>Brain</source>
        <translation>脑窗</translation>
    </message>
    <message>
        <source>Automatic (1–99 %)</source>
        <translation>自动（1–99 %）</translation>
    </message>
    <message>
        <source>Full range</source>
        <translation>全范围</translation>
    </message>
    <message>
        <source>File: {0}</source>
        <translation>文件：{0}</translation>
    </message>
    <message>
        <source>{0} / {1}</source>
        <translation>{0} / {1}</translation>
    </message>
    <message>
        <source>Show or hide the model&apos;s heat map (H).</source>
        <translation>显示或隐藏模型的热力图（H）。</translation>
    </message>
    <message>
        <source>Analyse the image first (Analysis ▸ Analyze image): the heat map comes with the result.</source>
        <translation>请先分析图像（分析 ▸ 分析图像）：热力图随结果一起给出。</translation>
    </message>
</context>
<context>
    <name>window</name>
    <message>
        <source>Stethos</source>
        <translation>Stethos</translation>
    </message>
</context>
</TS>
