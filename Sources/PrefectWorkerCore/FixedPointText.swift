extension Double {
    /// The value with exactly `digits` decimals (0 to 6), as `%.<digits>f` prints it: the exact
    /// binary value rounded half to even, so 2.675 (2.67499999...) gives "2.67". Without
    /// `String(format:)`, which needs full Foundation (docs/architecture.md, "Foundation"). Values
    /// beyond ±9e15 and values that are not finite are printed as Swift prints them.
    public func fixedPointText(digits: Int) -> String {
        let digits = Swift.min(Swift.max(0, digits), 6)
        guard isFinite, abs(self) < 9e15 else { return String(self) }
        var scale: UInt128 = 1
        for _ in 0..<digits { scale *= 10 }
        let units = Self.roundedUnits(abs(self), scale: scale)
        let sign = self < 0 ? "-" : ""
        let whole = String(units / scale)
        guard digits > 0 else { return sign + whole }
        let fraction = String(units % scale)
        return sign + whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// `value × scale` rounded half to even, computed exactly: value = m × 2^(e-52).
    private static func roundedUnits(_ value: Double, scale: UInt128) -> UInt128 {
        guard value.isNormal else { return 0 }  // zero, or below 2^-1022
        let significand = UInt128(value.significandBitPattern | (1 << 52))
        let product = significand * scale  // below 2^53 × 10^6: no overflow
        let shift = 52 - Int(value.exponent)
        if shift <= 0 { return product << UInt128(-shift) }  // below 9e15 × 10^6
        guard shift < 120 else { return 0 }
        let quotient = product >> UInt128(shift)
        let remainder = product - (quotient << UInt128(shift))
        let half = UInt128(1) << UInt128(shift - 1)
        let roundsUp = remainder > half || (remainder == half && quotient & 1 == 1)
        return quotient + (roundsUp ? 1 : 0)
    }
}

extension Int {
    /// The number in at least `width` characters, zero-padded after the sign (`%0<width>d`).
    public func zeroPadded(width: Int) -> String {
        let digits = String(magnitude)
        let sign = self < 0 ? "-" : ""
        return sign + String(repeating: "0", count: Swift.max(0, width - sign.count - digits.count)) + digits
    }
}
