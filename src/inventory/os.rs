//! A device's operating system as one short line (`IOS 12.2(50)SE5`,
//! `JUNOS 16.1R6.7`, `TiMOS-C-23.10.R3`) from sysDescr, which is a paragraph
//! on most devices. Sal shows it on its OS panel and builds a URL from it:
//! the line never has a `/` or a quote. The whole sysDescr stays a fact.

/// The word after `marker` in `text`, up to a comma, space or bracket.
fn word_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let rest = text[start..].trim_start();
    let end = rest
        .find(|c: char| c == ',' || c == '[' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|w| !w.is_empty())
}

/// The operating system line of `sys_descr`; empty when there is none.
pub fn short(sys_descr: &str) -> String {
    let text = sys_descr.trim().trim_matches('"');
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let version = |marker: &str| word_after(text, marker);
    let line = if text.starts_with("TiMOS") {
        first.split_whitespace().next().map(str::to_owned)
    } else if text.contains("Cisco IOS XR") {
        version("Version ").map(|v| format!("IOS XR {v}"))
    } else if text.contains("IOSXE") || text.contains("IOS-XE") || text.contains("IOS XE") {
        version("Version ").map(|v| format!("IOS XE {v}"))
    } else if text.contains("Cisco NX-OS") {
        version("Version ").map(|v| format!("NX-OS {v}"))
    } else if text.contains("Cisco IOS") {
        version("Version ").map(|v| format!("IOS {v}"))
    } else if text.contains("JUNOS") {
        version("JUNOS ").map(|v| format!("JUNOS {v}"))
    } else if text.contains("Arista Networks EOS") {
        version("EOS version ").map(|v| format!("EOS {v}"))
    } else if text.starts_with("Linux ") {
        first
            .split_whitespace()
            .nth(2)
            .map(|v| format!("Linux {v}"))
    } else {
        None
    };
    let line = line.unwrap_or_else(|| {
        first
            .split_whitespace()
            .take(8)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let clean: String = line
        .chars()
        .map(|c| if c == '/' || c == '\\' { ' ' } else { c })
        .filter(|c| !matches!(c, '"' | '\'') && !c.is_control())
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    clean.chars().take(64).collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn one_short_line_per_vendor() {
        for (descr, expected) in [
            (
                "Cisco IOS Software, C3750 Software (C3750-IPBASE-M), Version 12.2(50)SE5, RELEASE SOFTWARE (fc1)",
                "IOS 12.2(50)SE5",
            ),
            (
                "Juniper Networks, Inc. mx960 internet router, kernel JUNOS 16.1R6.7, Build date: 2017-11-22",
                "JUNOS 16.1R6.7",
            ),
            (
                "\"TiMOS-C-23.10.R3 cpm/hops64 Nokia 7750 SR Copyright (c) 2000-2024 Nokia.\nAll rights reserved.",
                "TiMOS-C-23.10.R3",
            ),
            (
                "Cisco IOS XR Software (Cisco ASR9K Series),  Version 6.4.2[Default]\nCopyright (c) 2018",
                "IOS XR 6.4.2",
            ),
            (
                "\"Cisco IOS Software [IOSXE], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Experimental Version 26.01.20260120:071730 [BLD]",
                "IOS XE 26.01.20260120:071730",
            ),
            (
                "Cisco NX-OS(tm) n5000, Software (n5000-uk9), Version 6.0(2)N2(3), RELEASE SOFTWARE",
                "NX-OS 6.0(2)N2(3)",
            ),
            (
                "Arista Networks EOS version 4.20.5F running on an Arista Networks DCS-7150S-52-CL",
                "EOS 4.20.5F",
            ),
            (
                "Ruijie 10G Routing Switch(S5750-24GT/12SFP) By Ruijie Networks",
                "Ruijie 10G Routing Switch(S5750-24GT 12SFP) By Ruijie Networks",
            ),
            (
                "Linux collector 6.1.0-27-amd64 #1 SMP PREEMPT_DYNAMIC Debian",
                "Linux 6.1.0-27-amd64",
            ),
            ("", ""),
        ] {
            assert_eq!(short(descr), expected, "{descr}");
        }
    }
}
