import Testing

@testable import GitSource

/// HMAC-SHA256 against the RFC 4231 test vectors (section 4), and the constant-time helpers.
@Suite struct HMACTests {
    static let rfc4231: [(key: [UInt8], data: [UInt8], expected: String)] = [
        // Test case 1
        ([UInt8](repeating: 0x0b, count: 20), bytes("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        // Test case 2: a key shorter than the output
        (bytes("Jefe"), bytes("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        // Test case 3
        (
            [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        // Test case 4
        (
            Array(1...25), [UInt8](repeating: 0xcd, count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        // Test case 6: a key larger than the block size is hashed first
        (
            [UInt8](repeating: 0xaa, count: 131), bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        // Test case 7: key and data larger than the block size
        (
            [UInt8](repeating: 0xaa, count: 131),
            bytes(
                "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
            ),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test(arguments: 0..<rfc4231.count)
    func rfc4231Vectors(index: Int) {
        let vector = Self.rfc4231[index]
        #expect(HMAC.sha256Hex(key: vector.key, message: vector.data) == vector.expected)
    }

    /// Test case 5 checks only the first 128 bits of the output.
    @Test func rfc4231TruncatedVector() {
        let mac = HMAC.sha256(key: [UInt8](repeating: 0x0c, count: 20), message: bytes("Test With Truncation"))
        #expect(mac.prefix(16).hexString == "a3b6167473100ee06e0c796c2955552b")
    }

    /// A key of exactly one block is used as is (neither hashed nor padded).
    @Test func blockSizedKeyDiffersFromItsHash() {
        let key = [UInt8](repeating: 0x42, count: 64)
        #expect(HMAC.sha256(key: key, message: bytes("m")) != HMAC.sha256(key: SHA256.hash(key), message: bytes("m")))
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.secretEquals(bytes("s3cret"), bytes("s3cret")))
        #expect(!ConstantTime.secretEquals(bytes("s3cret"), bytes("s3cret ")))
        #expect(!ConstantTime.secretEquals(bytes(""), bytes("x")))
    }

    @Test func hexDecoding() {
        #expect(decodeHex("00ff10Ab") == [0x00, 0xff, 0x10, 0xab])
        #expect(decodeHex("") == [])
        #expect(decodeHex("abc") == nil)
        #expect(decodeHex("zz") == nil)
    }
}
