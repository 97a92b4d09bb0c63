using System.Reflection;
using MarketIntel.CommandLine;
using MarketIntel.LoadTest;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// Clients reach the grid through the API's contracts alone: the contracts, the shared command-line project and the
/// load generator reference neither the server nor what it is built on (Orleans, ASP.NET Core, Npgsql, Redis).
/// </summary>
public sealed class ClientBoundaryTests
{
    private static readonly string[] ServerSide =
        ["MarketIntel.Server", "MarketIntel.Grains", "MarketIntel.Abstractions", "MarketIntel.Storage", "Orleans", "Microsoft.Orleans",
         "Microsoft.AspNetCore", "Npgsql", "StackExchange.Redis"];

    [Fact]
    public void The_contracts_the_command_line_project_and_the_load_generator_reach_nothing_of_the_server()
    {
        foreach (Assembly client in new[] { typeof(Api.V1.Grid).Assembly, typeof(CliArguments).Assembly, typeof(LoadRunner).Assembly })
        {
            string[] reached = [.. Reached(client)];
            Assert.Contains(reached, name => name == "Grpc.Core.Api");
            Assert.DoesNotContain(reached, name => ServerSide.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal)));
        }
    }

    /// <summary>Every assembly <paramref name="start"/> references, directly or through others, apart from the runtime's own.</summary>
    private static HashSet<string> Reached(Assembly start)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([start]);
        while (pending.TryPop(out Assembly? assembly))
        {
            foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
            {
                string name = reference.Name!;
                if (name.StartsWith("System", StringComparison.Ordinal) || name is "netstandard" or "mscorlib" || !seen.Add(name))
                {
                    continue;
                }
                pending.Push(Assembly.Load(reference));
            }
        }
        return seen;
    }
}
