using System.Globalization;

namespace MarketIntel.Server.Tests;

/// <summary>One read of <c>/metrics</c> (Prometheus text format): each family's type and help, and its samples with their labels in the order served.</summary>
internal sealed class Scrape
{
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _help = new(StringComparer.Ordinal);
    private readonly List<Sample> _samples = [];

    private Scrape(string text)
    {
        Text = text;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal) || line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', 4);
                (line[2] == 'T' ? _types : _help)[parts[2]] = parts.Length > 3 ? parts[3] : "";
            }
            else if (!line.StartsWith('#'))
            {
                _samples.Add(Sample.Parse(line));
            }
        }
    }

    public string Text { get; }

    public IEnumerable<string> Families => _types.Keys;

    public static async Task<Scrape> From(HttpClient http, string url) => new(await http.GetStringAsync(new Uri(url, UriKind.RelativeOrAbsolute)));

    public static Scrape Parse(string text) => new(text);

    public string? Type(string family) => _types.GetValueOrDefault(family);

    public string? Help(string family) => _help.GetValueOrDefault(family);

    /// <summary>The samples of one name (for a histogram, e.g. <c>NAME_count</c>).</summary>
    public IEnumerable<Sample> Samples(string name) => _samples.Where(s => s.Name == name);

    /// <summary>The value of the one sample of a name with these labels (name="value" pairs, in order).</summary>
    public double Value(string name, params string[] labels) =>
        Samples(name).Single(s => s.Labels.Select(l => $"{l.Name}=\"{l.Value}\"").SequenceEqual(labels)).Value;

    public sealed record Sample(string Name, IReadOnlyList<(string Name, string Value)> Labels, double Value)
    {
        public IEnumerable<string> LabelNames => Labels.Select(l => l.Name);

        // NAME{a="x",b="y"} VALUE; no label value here holds a quote followed by a comma.
        public static Sample Parse(string line)
        {
            int brace = line.IndexOf('{', StringComparison.Ordinal), space = line.LastIndexOf(' ');
            double value = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
            if (brace < 0)
            {
                return new Sample(line[..space], [], value);
            }
            string labels = line[(brace + 1)..line.LastIndexOf('}')];
            return new Sample(line[..brace], labels.Split("\",").Select(pair =>
            {
                int equals = pair.IndexOf('=', StringComparison.Ordinal);
                return (pair[..equals], pair[(equals + 2)..].TrimEnd('"'));
            }).ToList(), value);
        }
    }
}
