import Testing

@testable import GitSource

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ])
    func knownVectors(input: String, expected: String) {
        #expect(SHA256.hash(bytes(input)).hexString == expected)
    }

    @Test func millionAs() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(hasher.finalize().hexString == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 999] {
            var hasher = SHA256()
            hasher.update(data[..<split])
            hasher.update(data[split...])
            #expect(hasher.finalize() == SHA256.hash(data), "split at \(split)")
        }
    }

    @Test func sha1AndHMACVectors() {
        #expect(SHA1.hash(bytes("abc")).hexString == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hash([]).hexString == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        // RFC 2202 test cases 1 and 2.
        #expect(
            SHA1.hmac(key: [UInt8](repeating: 0x0b, count: 20), message: bytes("Hi There")).hexString
                == "b617318655057264e28bc0b6fb378c8ef146be00")
        #expect(
            SHA1.hmac(key: bytes("Jefe"), message: bytes("what do ya want for nothing?")).hexString
                == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }
}
