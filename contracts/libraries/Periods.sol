// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Billing periods as calendar months
/// @notice A period is a month written YYYYMM (202507 = July 2025), in UTC on chain: the same id the
/// collective pipeline, the statements and the rules use.
library Periods {
    /// @notice `period` is not a month YYYYMM between 2000-01 and 9999-12.
    error InvalidPeriod(uint32 period);

    /// @notice Reverts unless `period` is a month YYYYMM.
    function check(uint32 period) internal pure {
        uint32 month = period % 100;
        if (period < 200001 || period > 999912 || month == 0 || month > 12) revert InvalidPeriod(period);
    }

    /// @notice The month (YYYYMM, UTC) of a unix timestamp.
    /// @dev Howard Hinnant's days-to-civil algorithm, on days since 1970-01-01.
    function ofTimestamp(uint256 timestamp) internal pure returns (uint32) {
        unchecked {
            uint256 z = timestamp / 1 days + 719468;
            uint256 era = z / 146097;
            uint256 doe = z - era * 146097;
            uint256 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
            uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            uint256 mp = (5 * doy + 2) / 153;
            uint256 month = mp < 10 ? mp + 3 : mp - 9;
            uint256 year = yoe + era * 400 + (month <= 2 ? 1 : 0);
            return uint32(year * 100 + month);
        }
    }
}
