import PrefectWorkerCore
import Testing

@Suite struct PrefectScriptInterpreterTests {
    @Test(arguments: [
        ("#!/work/main/.venv/bin/python3\n# -*- coding: utf-8 -*-\nimport re\n", "/work/main/.venv/bin/python3"),
        ("#!/opt/prefect/bin/python3.11 -E\nimport sys\n", "/opt/prefect/bin/python3.11"),
        ("#!/usr/bin/env python3\n", "python3"),
        ("#!/usr/bin/env -S PYTHONUNBUFFERED=1 python3.12 -u\n", "python3.12"),
        ("#!/bin/sh\n'''exec' \"/very long/venv/bin/python3\" \"$0\" \"$@\"\n' '''\n", "/very long/venv/bin/python3"),
        ("#!/bin/sh\n'''exec' /srv/venv/bin/python \"$0\" \"$@\"\n", "/srv/venv/bin/python"),
    ])
    func theInterpreterPipWroteIsRead(script: String, interpreter: String) {
        #expect(PrefectScriptInterpreter.interpreter(script: script) == interpreter)
    }

    @Test(arguments: ["", "ELF\u{7f}binary", "#!/bin/sh\nexec prefect \"$@\"\n", "#!\n"])
    func noInterpreterWhenTheScriptNamesNone(script: String) {
        #expect(PrefectScriptInterpreter.interpreter(script: script) == nil)
    }
}
