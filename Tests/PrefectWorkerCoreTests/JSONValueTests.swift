import Foundation
import PrefectWorkerCore
import Testing

@Suite struct JSONValueTests {
    let text = #"{"a":[1,2.5,"x",null,true,{"b":{"c":[]}}],"d":{},"e":"q\"uote\n","f":false,"g":-3}"#

    @Test func roundTripOfANestedDocument() throws {
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let expected: JSONValue = [
            "a": [1, .number(2.5), "x", nil, true, ["b": ["c": []]]],
            "d": [:], "e": "q\"uote\n", "f": false, "g": -3,
        ]
        #expect(decoded == expected)
        let reencoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(decoded))
        #expect(reencoded == decoded)
    }

    @Test func compactTextIsStableAndParses() throws {
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let compact = decoded.compactJSONText
        #expect(compact == #"{"a":[1,2.5,"x",null,true,{"b":{"c":[]}}],"d":{},"e":"q\"uote\n","f":false,"g":-3}"#)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(compact.utf8)) == decoded)
    }

    @Test(arguments: [
        (.number(3.0), "3"), (.number(-3), "-3"), (.number(1.5), "1.5"), (true, "True"), (false, "False"),
        (nil, "None"), ("text", "text"), (["k": 1], #"{"k":1}"#),
    ] as [(JSONValue, String)])
    func interpolationText(_ value: JSONValue, _ expected: String) {
        #expect(value.interpolationText == expected)
    }
}

@Suite struct PythonTextTests {
    @Test(arguments: [
        ("text", "text"), (true, "True"), (false, "False"), (nil, "None"), (.number(3), "3"), (.number(2.5), "2.5"),
        ([1, "a", nil, true], "[1, 'a', None, True]"),
        (["b": ["x": "it's"], "a": #"say "hi""#], #"{'a': 'say "hi"', 'b': {'x': "it's"}}"#),
        (["both'\"", "tab\tnl\nbs\\", "\u{01}"], #"['both\'"', 'tab\tnl\nbs\\', '\x01']"#),
        ([:], "{}"), ([], "[]"),
    ] as [(JSONValue, String)])
    func strOfAValueIsWhatPythonPrints(_ value: JSONValue, _ expected: String) {
        #expect(value.pythonText == expected)
    }
}
