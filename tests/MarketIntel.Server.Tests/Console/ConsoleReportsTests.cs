using System.Net;
using System.Text.Json;
using MarketIntel.Server.Hosting;
using MarketIntel.Server.WebConsole;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The console's backtest reports on the real host: <c>GET /ui/reports</c> lists the report folders of the reports
/// directory (as JSON when asked), <c>GET /ui/reports/{report}/{file}</c> serves only plain files of an allowed type
/// directly in a plain report folder, sandboxed; links, other paths and other types are refused and nothing outside is
/// read. Each test writes report folders of its own into the fixture's directory.
/// </summary>
[Collection("server")]
public sealed class ConsoleReportsTests(ServerFixture server) : IDisposable
{
    private const string Markdown = "# Walk-forward backtest\n\nA report.\n";
    private const string Svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><script>document.title='owned'</script><rect width=\"10\" height=\"10\"/></svg>";

    // A folder outside the reports directory, holding what no request may read.
    private readonly DirectoryInfo _outside = Directory.CreateTempSubdirectory("marketintel-outside-");
    private readonly string _secret = $"SECRET-{Guid.NewGuid():N}";
    private readonly string _report = $"report-{Guid.NewGuid():N}"[..20];
    private readonly string _linked = $"linked-{Guid.NewGuid():N}"[..20];

    private HttpClient Http => server.Http;

    private void WriteReports()
    {
        File.WriteAllText(Path.Combine(_outside.FullName, "report.md"), _secret);
        string folder = Directory.CreateDirectory(Path.Combine(server.ReportsDirectory, _report)).FullName;
        File.WriteAllText(Path.Combine(folder, "report.md"), Markdown);
        File.WriteAllText(Path.Combine(folder, "equity.svg"), Svg);
        File.WriteAllText(Path.Combine(folder, "program.exe"), _secret);
        File.WriteAllText(Path.Combine(folder, ".hidden.md"), _secret);
        File.CreateSymbolicLink(Path.Combine(folder, "link.md"), Path.Combine(_outside.FullName, "report.md"));
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.WriteAllText(Path.Combine(folder, "sub", "nested.md"), _secret);
        Directory.CreateSymbolicLink(Path.Combine(server.ReportsDirectory, _linked), _outside.FullName);
    }

    [Fact]
    public async Task The_listing_names_each_report_folder_with_only_the_files_it_would_serve()
    {
        WriteReports();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/ui/reports", UriKind.Relative));
        request.Headers.Accept.ParseAdd("application/json");
        using HttpResponseMessage response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        using JsonDocument listing = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement root = listing.RootElement;
        Assert.Equal("MarketIntel:Console:ReportsDirectory", root.GetProperty("setting").GetString());
        Assert.Equal(Path.GetFullPath(server.ReportsDirectory), root.GetProperty("directory").GetString());
        string[] names = root.GetProperty("reports").EnumerateArray().Select(r => r.GetProperty("name").GetString()!).ToArray();
        Assert.Contains(_report, names);
        Assert.DoesNotContain(_linked, names);
        JsonElement report = root.GetProperty("reports").EnumerateArray().Single(r => r.GetProperty("name").GetString() == _report);
        Assert.Equal(["equity.svg", "report.md"], report.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToArray());
        Assert.Equal(Markdown.Length, report.GetProperty("files")[1].GetProperty("bytes").GetInt64());
    }

    [Theory]
    [InlineData("report.md", "text/markdown", Markdown)]
    [InlineData("equity.svg", "image/svg+xml", Svg)]
    public async Task A_reports_file_is_served_as_it_is_with_its_type_in_a_sandbox(string file, string type, string content)
    {
        WriteReports();
        using HttpResponseMessage response = await Http.GetAsync(new Uri($"/ui/reports/{_report}/{file}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(content, await response.Content.ReadAsStringAsync());
        string policy = response.Headers.GetValues("Content-Security-Policy").Single();
        // The sandbox keeps a report's script (the SVG above carries one) from running on the admin origin.
        Assert.StartsWith("sandbox;", policy, StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("object-src 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Theory]
    [InlineData("{report}/link.md", "a link is not served")]
    [InlineData("{linked}/report.md", "there is no report")]
    [InlineData("{report}/program.exe", "files of type '.exe' are not served")]
    [InlineData("{report}/.hidden.md", "is not a plain name")]
    [InlineData("{report}/missing.md", "has no file 'missing.md'")]
    [InlineData("{report}/..%2F..%2F{outside}%2Freport.md", "is not a plain name")]
    [InlineData("{report}/%2F{outside}%2Freport.md", "is not a plain name")]
    [InlineData("..%2F{outside}/report.md", "is not a plain name")]
    [InlineData("{report}/..%5C..%5Creport.md", "is not a plain name")]
    [InlineData("{report}/sub", "has no file 'sub'")]
    [InlineData("{report}/sub/nested.md", null)]
    [InlineData("%2E%2E/%2E%2E/{outside}/report.md", null)]
    public async Task Anything_but_a_plain_file_of_a_report_is_refused_and_nothing_outside_is_read(string path, string? error)
    {
        WriteReports();
        string outside = _outside.FullName.TrimStart('/').Replace("/", "%2F", StringComparison.Ordinal);
        string asked = "/ui/reports/" + path.Replace("{report}", _report, StringComparison.Ordinal)
            .Replace("{linked}", _linked, StringComparison.Ordinal).Replace("{outside}", outside, StringComparison.Ordinal);
        using HttpResponseMessage response = await Http.GetAsync(new Uri(asked, UriKind.Relative));
        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest, $"{asked}: {response.StatusCode}");
        string body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(_secret, body, StringComparison.Ordinal);
        if (error is not null)
        {
            using JsonDocument json = JsonDocument.Parse(body);
            Assert.Contains(error, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Without_a_reports_directory_the_listing_and_every_file_name_the_setting_to_set()
    {
        var listing = new DefaultHttpContext();
        listing.Response.Body = new MemoryStream();
        await ConsoleReports.List(listing, root: null);
        using (JsonDocument json = JsonDocument.Parse(((MemoryStream)listing.Response.Body).ToArray()))
        {
            Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("directory").ValueKind);
            Assert.Equal("MarketIntel:Console:ReportsDirectory", json.RootElement.GetProperty("setting").GetString());
            Assert.Equal(0, json.RootElement.GetProperty("reports").GetArrayLength());
        }

        var file = new DefaultHttpContext();
        file.Response.Body = new MemoryStream();
        await ConsoleReports.ServeFile(file, root: null, "any", "report.md");
        Assert.Equal(StatusCodes.Status404NotFound, file.Response.StatusCode);
        using JsonDocument error = JsonDocument.Parse(((MemoryStream)file.Response.Body).ToArray());
        Assert.StartsWith("no reports directory is set: set MarketIntel:Console:ReportsDirectory", error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_reports_directory_that_does_not_exist_stops_the_start_naming_the_setting()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-reports-{Guid.NewGuid():N}");
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MarketIntel:Console:ReportsDirectory"] = missing,
        }).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(configuration));
        Assert.Contains($"MarketIntel:Console:ReportsDirectory '{missing}' is not an existing folder", e.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        string folder = Path.Combine(server.ReportsDirectory, _report);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
        // Deletes the link, not the folder it points to.
        if (Directory.Exists(Path.Combine(server.ReportsDirectory, _linked)))
        {
            Directory.Delete(Path.Combine(server.ReportsDirectory, _linked));
        }
        _outside.Delete(recursive: true);
    }
}
