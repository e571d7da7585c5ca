; Inno Setup script for Stethos on Windows (x64), around the same PyInstaller
; one-folder build as Linux.
;
; On a Windows build machine (Python 3.11, the project's venv with the
; `package` extra, Inno Setup 6):
;   py -3.11 -m venv .venv
;   .venv\Scripts\pip install -e .[package]
;   .venv\Scripts\python scripts\make_icon.py
;   .venv\Scripts\python packaging\windows\make_ico.py
;   .venv\Scripts\pyinstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\stethos.spec
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\stethos.iss
; Output: dist\Stethos-0.1.0-setup.exe
;
; Per-machine install under Program Files; user data stays in %LOCALAPPDATA%\Stethos
; and is never removed by the uninstaller.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6C1F3D2A-9B7E-4E55-A0C8-5F2B1D7E9A41}
AppName=Stethos
AppVersion={#AppVersion}
AppPublisher=Stethos
DefaultDirName={autopf}\Stethos
DefaultGroupName=Stethos
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
OutputDir=..\..\dist
OutputBaseFilename=Stethos-{#AppVersion}-setup
SetupIconFile=stethos.ico
UninstallDisplayIcon={app}\stethos.exe
; The CUDA build is several GB: LZMA2 with a large dictionary, solid.
Compression=lzma2/normal
SolidCompression=yes
DiskSpanning=no
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "chinesesimplified"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"

[Files]
Source: "..\..\dist\stethos\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Stethos"; Filename: "{app}\stethos.exe"
Name: "{autodesktop}\Stethos"; Filename: "{app}\stethos.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Run]
; Proves the installation before first use; the window closes when it passes.
Filename: "{app}\stethos-engine.exe"; Parameters: "self-test"; StatusMsg: "Checking the installation..."; Flags: runhidden waituntilterminated
Filename: "{app}\stethos.exe"; Description: "{cm:LaunchProgram,Stethos}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only program files: byte-code caches Python may write beside the app.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
