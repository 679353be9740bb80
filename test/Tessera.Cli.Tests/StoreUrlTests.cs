using System.Net;
using StackExchange.Redis;

namespace Tessera.Cli.Tests;

/// <summary>How <c>--store</c> names a Redis: what each form connects to, and what of it the tool may print.</summary>
public sealed class StoreUrlTests
{
    [Fact]
    public void AConfigurationStringAfterRedisColonCarriesEveryStackExchangeRedisOption()
    {
        var url = StoreUrl.Parse(
            "redis:cache-1:6379,cache-2:7000,ssl=true,sslHost=cache.example,user=app,password=Conf-Secret-1,serviceName=primary,"
            + "abortConnect=false,connectTimeout=2000,syncTimeout=3000,asyncTimeout=4000,defaultDatabase=2,prefix=shop",
            prefixOverride: null);

        Assert.Equal(StoreKind.Redis, url.Kind);
        var redis = url.Redis!;
        Assert.Equal([new DnsEndPoint("cache-1", 6379), new DnsEndPoint("cache-2", 7000)], redis.EndPoints.Cast<DnsEndPoint>());
        Assert.True(redis.Ssl);
        Assert.Equal("cache.example", redis.SslHost);
        Assert.Equal("app", redis.User);
        Assert.Equal("Conf-Secret-1", redis.Password);
        Assert.Equal("primary", redis.ServiceName);
        Assert.False(redis.AbortOnConnectFail);
        Assert.Equal(2000, redis.ConnectTimeout);
        Assert.Equal(3000, redis.SyncTimeout);
        Assert.Equal(4000, redis.AsyncTimeout);
        Assert.Equal(2, redis.DefaultDatabase);
        Assert.Equal("shop", url.RedisPrefix);
        Assert.Equal(
            "redis:cache-1:6379,cache-2:7000,ssl=true,sslHost=cache.example,user=app,password=***,serviceName=primary,"
            + "abortConnect=false,connectTimeout=2000,syncTimeout=3000,asyncTimeout=4000,defaultDatabase=2,prefix=shop",
            url.Display);
    }

    [Theory]
    [InlineData("REDIS:127.0.0.1:6379")]
    [InlineData("  redis:127.0.0.1:6379 , prefix = tessera ")]
    public void TheConfigurationFormIsRecognizedWhateverTheCaseOfItsSchemeAndTheSpacesAroundItsOptions(string text)
    {
        var url = StoreUrl.Parse(text, prefixOverride: null);

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 6379), Assert.Single(url.Redis!.EndPoints));
        Assert.Equal("tessera", url.RedisPrefix);
    }

    [Fact]
    public void ThePrefixOptionWinsOverThePrefixOfAConfigurationStringAndTheDefaultIsTessera()
    {
        Assert.Equal("other", StoreUrl.Parse("redis:h:6379,prefix=shop", "other").RedisPrefix);
        Assert.Equal("tessera", StoreUrl.Parse("redis:h:6379", null).RedisPrefix);
    }

    [Fact]
    public void ARedissUrlIsTheSameSingleNodeOverTls()
    {
        var url = StoreUrl.Parse("rediss://app:p%40ss-Url-2@cache.example:6380/3?prefix=shop", prefixOverride: null);

        var redis = url.Redis!;
        Assert.True(redis.Ssl);
        Assert.Equal(new DnsEndPoint("cache.example", 6380), Assert.Single(redis.EndPoints));
        Assert.Equal("app", redis.User);
        Assert.Equal("p@ss-Url-2", redis.Password);
        Assert.Equal(3, redis.DefaultDatabase);
        Assert.Equal("shop", url.RedisPrefix);
        Assert.Equal("rediss://app:***@cache.example:6380/3?prefix=shop", url.Display);
    }

    [Theory]
    [InlineData("redis://cache.example", false)]
    [InlineData("rediss://cache.example", true)]
    public void ARedisUrlWithoutAPortUses6379WithOrWithoutTls(string text, bool tls)
    {
        var redis = StoreUrl.Parse(text, prefixOverride: null).Redis!;

        Assert.Equal(new DnsEndPoint("cache.example", 6379), Assert.Single(redis.EndPoints));
        Assert.Equal(tls, redis.Ssl);
        Assert.True(redis.AbortOnConnectFail);
    }

    [Theory]
    [InlineData("redis:h:6379,password=Pw-Conf-3", "Pw-Conf-3")]
    [InlineData("redis:h:26379,serviceName=primary,password=Pw-Conf-4,sentinelPassword=Pw-Sentinel-5", "Pw-Conf-4", "Pw-Sentinel-5")]
    [InlineData("redis://:Pw%2FUrl-6@h:6379", "Pw/Url-6", "Pw%2FUrl-6")]
    [InlineData("rediss://user:Pw-Url-7@h", "Pw-Url-7")]
    public void EveryPasswordIsMaskedInTheDisplayAndScrubbedFromMessages(string text, params string[] secrets)
    {
        var url = StoreUrl.Parse(text, prefixOverride: null);
        var message = "failed: " + string.Join(" and ", secrets) + " at " + url.Display;

        var scrubbed = url.Scrub(message);

        Assert.Contains("***", url.Display, StringComparison.Ordinal);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, url.Display, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, scrubbed, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("redis:h:6379,password=Bad-Pw-8,ssl=Bad-Pw-8")] // StackExchange.Redis quotes the bad value
    [InlineData("redis:h:6379,password=Bad-Pw-8,frobnicate=1")]
    [InlineData("redis:password=Bad-Pw-8")] // no endpoint
    [InlineData("redis:")]
    [InlineData("127.0.0.1:6379,password=Bad-Pw-8")] // a configuration string needs redis: in front
    [InlineData("localhost:6379,password=Bad-Pw-8")]
    public void AMalformedRedisStoreIsAFormatErrorThatNeverQuotesThePassword(string text)
    {
        var error = Assert.Throws<FormatException>(() => StoreUrl.Parse(text, prefixOverride: null));

        Assert.DoesNotContain("Bad-Pw-8", error.Message, StringComparison.Ordinal);
        Assert.Contains("redis:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnreadableCaCertificateIsAFormatErrorNamingTheFile()
    {
        var missing = Path.Combine(Path.GetTempPath(), "tessera-no-such-ca-" + Guid.NewGuid().ToString("N") + ".pem");

        var error = Assert.Throws<FormatException>(() => StoreUrl.Parse("rediss://h:6379", null, missing));

        Assert.Contains("--tls-ca", error.Message, StringComparison.Ordinal);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheToolConnectsUnderAClientNameOfItsOwnUnlessTheConfigurationStringGivesOne()
    {
        Assert.Equal("tessera-cli", StoreUrl.Parse("redis://h", null).Redis!.ClientName);
        Assert.Equal("ops", StoreUrl.Parse("redis:h:6379,name=ops", null).Redis!.ClientName);
    }
}
