/// RFC 3986 percent-encoding of one URL path segment, without full Foundation's
/// `addingPercentEncoding(withAllowedCharacters:)` (docs/architecture.md, "Foundation").
public enum PercentEncoding {
    /// `segment` with every byte written as `%XX` but the unreserved ones, `:`, `@` and the
    /// sub-delims other than `;` (Foundation's `urlPathAllowed` without `/`, as the worker sent
    /// names before), so a name with a slash, a space or a `%` stays one segment.
    public static func pathSegment(_ segment: String) -> String {
        var out = ""
        out.reserveCapacity(segment.utf8.count)
        for byte in segment.utf8 {
            if isPathSegmentByte(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + hexDigit(byte >> 4) + hexDigit(byte & 0x0f)
            }
        }
        return out
    }

    private static func isPathSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~!$&'()*+,=:@".utf8.contains(byte)
        }
    }

    private static func hexDigit(_ value: UInt8) -> String {
        String(UnicodeScalar(value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10))
    }
}
