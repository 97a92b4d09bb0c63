using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Server.Hosting;
using MarketIntel.Server.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace MarketIntel.Security.Tests;

/// <summary>
/// JWT bearer tokens from an issuer of the test's own (an RSA key whose public half the server reads from a PEM
/// file): the role comes from a claim, and a token that is expired, for another audience, from another issuer or
/// signed by another key opens nothing.
/// </summary>
public sealed class JwtTests(JwtTests.Server server) : IClassFixture<JwtTests.Server>
{
    private const string Issuer = "https://issuer.test";
    private const string Audience = "marketintel";

    /// <summary>A grid accepting tokens of one issuer, and nothing else.</summary>
    public sealed class Server : IAsyncLifetime
    {
        private InProcessGrid? _grid;
        private GrpcChannel? _channel;

        public RSA Key { get; } = RSA.Create(2048);

        public Grid.GridClient Grpc { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            string folder = Directory.CreateTempSubdirectory("marketintel-jwt-").FullName;
            string publicKey = Path.Combine(folder, "issuer.pem");
            await File.WriteAllTextAsync(publicKey, Key.ExportSubjectPublicKeyInfoPem());
            _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
            {
                ["MarketIntel:Models:0"] = AuthFixture.DirectionModel,
                ["Auth:Jwt:SigningKeyFile"] = publicKey,
                ["Auth:Jwt:Issuer"] = Issuer,
                ["Auth:Jwt:Audience"] = Audience,
            });
            _channel = _grid.Channel();
            Grpc = new Grid.GridClient(_channel);
        }

        public async Task DisposeAsync()
        {
            _channel?.Dispose();
            if (_grid is not null)
            {
                await _grid.DisposeAsync();
            }
            Key.Dispose();
        }
    }

    private static string Token(RSA key, string? role, string issuer = Issuer, string audience = Audience, TimeSpan? lifetime = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = "quant-7" };
        if (role is not null)
        {
            claims["marketintel_role"] = role;
        }
        DateTime now = DateTime.UtcNow;
        TimeSpan life = lifetime ?? TimeSpan.FromMinutes(5);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = now + life - TimeSpan.FromMinutes(10),
            NotBefore = now + life - TimeSpan.FromMinutes(10),
            Expires = now + life,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key), SecurityAlgorithms.RsaSha256),
        });
    }

    private async Task<StatusCode> Ingest(string token)
    {
        using var call = server.Grpc.IngestBars(new Metadata { { "authorization", "Bearer " + token } });
        try
        {
            await call.RequestStream.WriteAsync(new IngestBarsRequest { Asset = "JWT", Bars = { Bars.Range(0, 3) } });
            await call.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
        }
        try
        {
            await call.ResponseAsync;
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    [Fact]
    public async Task A_token_with_a_role_claim_opens_what_the_role_may_and_no_more()
    {
        Assert.Equal(StatusCode.OK, await Ingest(Token(server.Key, "writer")));
        Assert.Equal(StatusCode.PermissionDenied, await Ingest(Token(server.Key, "reader")));
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await server.Grpc.AssignModelAsync(
            new AssignModelRequest { Assets = { "JWT" }, Name = "x", Version = "1" }, new Metadata { { "authorization", "Bearer " + Token(server.Key, "writer") } }));
        Assert.Equal("key 'jwt:quant-7' has role writer; /marketintel.v1.Grid/AssignModel needs admin", denied.Status.Detail);
        Assert.Equal(StatusCode.PermissionDenied, await Ingest(Token(server.Key, null)));
    }

    [Fact]
    public async Task Expired_foreign_and_forged_tokens_and_API_keys_are_refused_as_unauthenticated()
    {
        using var stranger = RSA.Create(2048);
        Assert.Equal(StatusCode.Unauthenticated, await Ingest(Token(server.Key, "admin", lifetime: TimeSpan.FromMinutes(-5))));
        Assert.Equal(StatusCode.Unauthenticated, await Ingest(Token(server.Key, "admin", audience: "another-service")));
        Assert.Equal(StatusCode.Unauthenticated, await Ingest(Token(server.Key, "admin", issuer: "https://evil.test")));
        Assert.Equal(StatusCode.Unauthenticated, await Ingest(Token(stranger, "admin")));
        Assert.Equal(StatusCode.Unauthenticated, await Ingest(MarketIntel.Abstractions.ApiKeys.Create("k", MarketIntel.Abstractions.ApiRole.Admin, DateTimeOffset.UtcNow).Key));
    }
}
