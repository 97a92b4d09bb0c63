using MarketIntel.Features.Io;

namespace MarketIntel.Features.Tests;

public sealed class BarCsvTests
{
    private const string Header = "timestamp,Open,HIGH,low,Close,volume\n";

    [Fact]
    public void Headers_are_matched_case_insensitively_in_any_order()
    {
        var bars = BarCsv.Parse("Date,Volume,Close,Low,High,Open\nd1,100,10.5,10,11,10.2\n", "x.csv");
        Assert.Equal(new Bar(10.2, 11, 10, 10.5, 100), bars[0]);
        Assert.Equal("d1", bars.Timestamps[0]);
    }

    [Fact]
    public void Close_only_input_has_high_low_and_open_equal_to_close_and_unit_volume()
    {
        var bars = BarCsv.Parse("timestamp,close\r\n1,1.5\r\n2,1.6\r\n", "x.csv");
        Assert.Equal(new Bar(1.6, 1.6, 1.6, 1.6, 1), bars[1]);
    }

    [Fact]
    public void A_named_column_can_serve_as_the_close()
    {
        var bars = BarCsv.Parse("day,DAX,SMI\n1,1628.75,1678.1\n", "eu.csv", "smi");
        Assert.Equal(Bar.FromClose(1678.1), bars[0]);
    }

    [Theory]
    [InlineData("t1,1,2,0.5,1.5,abc\n", "x.csv:2:6: volume: 'abc' is not a number")]
    [InlineData("t1,1,2,0.5,1.5,100\nt2,1,2,0.5,NaN,100\n", "x.csv:3:5: Close: 'NaN' is not a finite number")]
    [InlineData("t1,1,2,0.5,1.5,100\nt2,1,2,0.5,Infinity,100\n", "x.csv:3:5: Close: 'Infinity' is not a finite number")]
    [InlineData("t1,1,2,-0.5,1.5,100\n", "x.csv:2:4: low -0.5 must be positive")]
    [InlineData("t1,1,2,0.5,1.5,-1\n", "x.csv:2:6: volume -1 must not be negative")]
    [InlineData("t1,1,1,2,1.5,100\n", "x.csv:2:3: high 1 is below low 2")]
    [InlineData("t1,1,1e308,0.5,1.5,100\n", "x.csv:2:3: HIGH 1E+308 is above the largest price accepted, 1000000000000")]
    [InlineData("t1,1,2,0.5,1.5,1e300\n", "x.csv:2:6: volume 1E+300 is above the largest volume accepted, 1E+18")]
    [InlineData("t1,1,2,0.5,2.5,100\n", "x.csv:2:5: Close 2.5 is outside the bar's range [low 0.5, high 2]")]
    [InlineData("t1,1,2,0.5\n", "x.csv:2:5: short row: 4 cells, the header has 6")]
    [InlineData("t1,1,2,0.5,1.5,100,7\n", "x.csv:2:7: long row: 7 cells, the header has 6")]
    [InlineData("t1,1,2,0.5,,100\n", "x.csv:2:5: Close: empty cell")]
    [InlineData(",1,2,0.5,1.5,100\n", "x.csv:2:1: empty timestamp")]
    [InlineData("", "x.csv:2: no data rows after the header")]
    public void A_bad_cell_is_reported_with_file_line_and_column(string rows, string message)
    {
        var e = Assert.Throws<DataFormatException>(() => BarCsv.Parse(Header + rows, "x.csv"));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_header_without_a_close_column_is_rejected()
    {
        var e = Assert.Throws<DataFormatException>(() => BarCsv.Parse("t,open,high\n1,2,3\n", "x.csv"));
        Assert.Equal("x.csv:1: no close column in the header (t,open,high)", e.Message);
    }

    [Fact]
    public void A_missing_file_is_reported_by_name()
    {
        var e = Assert.Throws<DataFormatException>(() => BarCsv.Read("/nonexistent/bars.csv"));
        Assert.Equal("/nonexistent/bars.csv: no such file", e.Message);
    }
}
