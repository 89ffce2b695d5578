import XCTest
@testable import TrainyardCore

final class YAMLTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try YAMLParser.parse(text) }

    func testAzureSweepJobAsTheDocsWriteIt() throws {
        let text = """
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep
        name: mnist-sweep   # a comment
        display_name: "MNIST: learning rate"
        experiment_name: tf-sweeps
        tags: {team: ml, tier: "gold"}
        sampling_algorithm:
          type: random
          seed: 7
          rule: sobol
        search_space:
          learning_rate:
            type: loguniform
            min_value: -6
            max_value: -1
          batch_size:
            type: choice
            values: [32, 64, 128]
        objective:
          primary_metric: accuracy
          goal: maximize
        trial:
          code: ./src
          command: >-
            python train.py
            --lr ${{search_space.learning_rate}}
            --batch ${{search_space.batch_size}}
          environment: azureml:tensorflow-2.16-cuda12@latest
          environment_variables:
            TF_CPP_MIN_LOG_LEVEL: '2'
          distribution:
            type: tensorflow
            worker_count: 2
            parameter_server_count: 1
        limits:
          max_total_trials: 20
          max_concurrent_trials: 4
          timeout: 7200
        early_termination:
          type: bandit
          slack_factor: 0.1
          evaluation_interval: 2
          delay_evaluation: 0
        """
        let v = try parse(text)
        XCTAssertEqual(v["$schema"]?.stringValue, "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json")
        XCTAssertEqual(v["name"]?.stringValue, "mnist-sweep")
        XCTAssertEqual(v["display_name"]?.stringValue, "MNIST: learning rate")
        XCTAssertEqual(v["tags"]?["tier"]?.stringValue, "gold")
        XCTAssertEqual(v["sampling_algorithm"]?["seed"]?.intValue, 7)
        XCTAssertEqual(v["search_space"]?["learning_rate"]?["min_value"]?.doubleValue, -6)
        XCTAssertEqual(v["search_space"]?["batch_size"]?["values"], .array([32, 64, 128].map { .number(Double($0)) }))
        XCTAssertEqual(v["trial"]?["command"]?.stringValue,
                       "python train.py --lr ${{search_space.learning_rate}} --batch ${{search_space.batch_size}}")
        XCTAssertEqual(v["trial"]?["environment_variables"]?["TF_CPP_MIN_LOG_LEVEL"]?.stringValue, "2")
        XCTAssertEqual(v["limits"]?["timeout"]?.intValue, 7200)
        XCTAssertEqual(v["early_termination"]?["slack_factor"]?.doubleValue, 0.1)
        XCTAssertEqual(v.objectValue?.map(\.0).first, "$schema", "key order is kept")
    }

    func testGcloudJobConfigWithListsAtTheKeysIndentation() throws {
        let text = """
        trainingInput:
          scaleTier: CUSTOM
          masterType: complex_model_m
          workerType: complex_model_s
          workerCount: 2
          parameterServerCount: 1
          args:
          - --max-steps
          - "300"
          - --hidden=64,32
          hyperparameters: null
        labels:
          owner: ana
        """
        let v = try parse(text)
        XCTAssertEqual(v["trainingInput"]?["args"], .array([.string("--max-steps"), .string("300"), .string("--hidden=64,32")]))
        XCTAssertEqual(v["trainingInput"]?["workerCount"]?.intValue, 2)
        XCTAssertEqual(v["trainingInput"]?["hyperparameters"], .null)
        XCTAssertEqual(v["labels"]?["owner"]?.stringValue, "ana")
    }

    func testSequencesOfMappingsAndNestedSequences() throws {
        let v = try parse("""
        faults:
          - at_step: 100
            action: kill
            target: worker-1
          - {at_seconds: 1.5, action: preempt, target: chief}
          -
            - a
            - b
        """)
        let faults = try XCTUnwrap(v["faults"]?.arrayValue)
        XCTAssertEqual(faults.count, 3)
        XCTAssertEqual(faults[0]["target"]?.stringValue, "worker-1")
        XCTAssertEqual(faults[1]["at_seconds"]?.doubleValue, 1.5)
        XCTAssertEqual(faults[2], .array([.string("a"), .string("b")]))
    }

    func testScalarTypesAndQuoting() throws {
        let v = try parse("""
        a: 12
        b: -1.5e3
        c: 0x1F
        d: true
        e: ~
        f: "line\\nbreak \\u00e9"
        g: 'it''s'
        h: 1.0.3
        i: "12"
        j: yes
        k:
        url: http://example.com/a#b
        note: value # comment
        """)
        XCTAssertEqual(v["a"], .number(12))
        XCTAssertEqual(v["b"], .number(-1500))
        XCTAssertEqual(v["c"], .number(31))
        XCTAssertEqual(v["d"], .bool(true))
        XCTAssertEqual(v["e"], .null)
        XCTAssertEqual(v["f"]?.stringValue, "line\nbreak é")
        XCTAssertEqual(v["g"]?.stringValue, "it's")
        XCTAssertEqual(v["h"]?.stringValue, "1.0.3")
        XCTAssertEqual(v["i"]?.stringValue, "12")
        XCTAssertEqual(v["j"]?.stringValue, "yes", "YAML 1.2: only true/false are booleans")
        XCTAssertEqual(v["k"], .null)
        XCTAssertEqual(v["url"]?.stringValue, "http://example.com/a#b")
        XCTAssertEqual(v["note"]?.stringValue, "value")
    }

    func testLiteralAndFoldedBlockScalarsWithChomping() throws {
        let v = try parse("""
        literal: |
          first
            indented
          last
        stripped: |-
          one
          two
        folded: >
          a
          b

          c
        kept: |+
          x

        after: 1
        """)
        XCTAssertEqual(v["literal"]?.stringValue, "first\n  indented\nlast\n")
        XCTAssertEqual(v["stripped"]?.stringValue, "one\ntwo")
        XCTAssertEqual(v["folded"]?.stringValue, "a b\nc\n")
        XCTAssertEqual(v["kept"]?.stringValue, "x\n\n")
        XCTAssertEqual(v["after"]?.intValue, 1)
    }

    func testDocumentMarkersCRLFAndBOM() throws {
        let v = try parse("\u{FEFF}---\r\nname: x\r\nvalues: [1, 2,\r\n  3]\r\n...\r\n")
        XCTAssertEqual(v["name"]?.stringValue, "x")
        XCTAssertEqual(v["values"]?.arrayValue?.count, 3)
        XCTAssertEqual(try parse(""), .null)
        XCTAssertEqual(try parse("# only a comment\n"), .null)
    }

    func testRefusedWithLineAndColumn() {
        let cases: [(String, Int, Int, String)] = [
            ("a: 1\nb: &anchor 2\n", 2, 4, "anchors"),
            ("a: 1\nb: *ref\n", 2, 4, "anchors"),
            ("a: !!str 1\n", 1, 4, "tags"),
            ("a: 1\na: 2\n", 2, 1, "duplicate key"),
            ("a: 1\n---\nb: 2\n", 2, 1, "second document"),
            ("a:\n\tb: 1\n", 2, 1, "tab"),
            ("a: [1, 2\n", 1, 4, "never closed"),
            ("a: .inf\n", 1, 4, "finite"),
            ("a:\n  b: 1\n c: 2\n", 3, 2, "indentation"),
            ("a: \"open\n", 1, 4, "never closed"),
        ]
        for (text, line, column, words) in cases {
            XCTAssertThrowsError(try YAMLParser.parse(text), text) { error in
                guard let e = error as? YAMLParser.SyntaxError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.line, line, "\(text): \(e)")
                XCTAssertEqual(e.column, column, "\(text): \(e)")
                XCTAssertTrue(e.reason.contains(words), "\(text): \(e)")
            }
        }
    }

    func testJSONFilesStillReadAsJSONAndYAMLSpecsThroughJSONField() throws {
        XCTAssertTrue(YAMLParser.looksLikeJSON("  {\"a\": 1}"))
        XCTAssertFalse(YAMLParser.looksLikeJSON("a: 1"))
        let json = try JSONField.parse("{\"a\": [1, 2]}", source: "x.json")
        XCTAssertEqual(json.value["a"]?.arrayValue?.count, 2)
        let yaml = try JSONField.parse("a:\n  - 1\n  - 2\n", source: "x.yaml")
        XCTAssertEqual(yaml.value, json.value)
        XCTAssertThrowsError(try JSONField.parse("a: &x 1", source: "spec.yaml")) { error in
            XCTAssertTrue("\(error)".contains("spec.yaml"), "\(error)")
            XCTAssertTrue("\(error)".contains("line 1, column 4"), "\(error)")
        }
    }

    func testEveryShippedScenarioReadsTheSameAsYAML() throws {
        // JSON is YAML's flow style: the reader takes a JSON document written as YAML flow too.
        let v = try parse("cluster: {\"workers\": 2, \"ps\": 1}\nexpect: {\"state\": \"SUCCEEDED\"}\n")
        XCTAssertEqual(v["cluster"]?["workers"]?.intValue, 2)
        XCTAssertEqual(v["expect"]?["state"]?.stringValue, "SUCCEEDED")
    }
}

final class YAMLWriterTests: XCTestCase {
    func testRoundTripsThroughTheReader() throws {
        let values: [JSONValue] = [
            .object([("apiVersion", .string("kubeflow.org/v1")), ("kind", .string("TFJob")),
                     ("metadata", .object([("name", .string("mnist")), ("labels", .object([]))])),
                     ("spec", .object([("replicas", .array([.object([("name", .string("a")), ("n", .number(2))]), .string("x"), .array([.bool(true), .null])])),
                                       ("args", .array([.string("--max-steps"), .string("300"), .string("true"), .string("yes"), .string(""), .string("a: b"), .string("# not a comment"),
                                                        .string("- dash"), .string("line\nbreak"), .string("${{search_space.lr}}"), .string("0x10"), .string(" padded ")])),
                                       ("ratio", .number(0.25)), ("empty", .array([]))]))]),
            .array([.number(1), .string("two")]),
            .string("plain"),
        ]
        for v in values {
            let text = v.yamlSerialized()
            XCTAssertEqual(try YAMLParser.parse(text), v, text)
        }
    }

    func testReadsAsKubectlWouldPrintIt() {
        let v = JSONValue.object([("kind", .string("TFJob")), ("spec", .object([("args", .array([.string("--a"), .string("1")]))]))])
        XCTAssertEqual(v.yamlSerialized(), "kind: TFJob\nspec:\n  args:\n  - --a\n  - '1'\n")
    }
}
