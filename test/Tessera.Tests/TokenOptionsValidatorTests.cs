using Microsoft.Extensions.Options;
using Tessera.Tokens;

namespace Tessera.Tests;

/// <summary>Start-up validation of the token options (section <c>Tessera:Tokens</c>).</summary>
public sealed class TokenOptionsValidatorTests
{
    private static TesseraOptions ValidOptions(Action<TesseraTokenOptions>? configure = null)
    {
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        configure?.Invoke(options.Tokens);
        return options;
    }

    private static ValidateOptionsResult Validate(Action<TesseraTokenOptions> configure) =>
        new TesseraOptionsValidator().Validate(null, ValidOptions(configure));

    private static void AssertFailsNaming(Action<TesseraTokenOptions> configure, string option)
    {
        var result = Validate(configure);

        Assert.True(result.Failed, $"expected {option} to fail validation");
        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith("Tessera:Tokens:" + option, failure, StringComparison.Ordinal);
    }

    private static void AssertValid(Action<TesseraTokenOptions> configure)
    {
        var result = Validate(configure);

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void TheTokenDefaultsAreTheDocumentedOnesAndValid()
    {
        var tokens = new TesseraTokenOptions();

        Assert.Equal(TimeSpan.FromMinutes(5), tokens.AccessTokenLifetime);
        Assert.Equal(TimeSpan.FromDays(1), tokens.RefreshTokenLifetime);
        Assert.Equal(TimeSpan.FromDays(7), tokens.SessionLifetime);
        Assert.Equal(TimeSpan.FromSeconds(30), tokens.ClockSkew);
        Assert.Equal(TimeSpan.FromSeconds(5), tokens.ReuseGraceWindow);
        Assert.Equal(4096, tokens.MaxTokenLength);
        Assert.Equal(4096, tokens.VerifiedTokenCacheSize);
        Assert.Equal(TokenProfile.Tessera, tokens.Profile);
        Assert.Null(new TesseraOptions().RevokedRetention);
        AssertValid(_ => { });
    }

    [Fact]
    public void AnAccessTokenLifetimeEqualToTheRefreshTokenLifetimeIsRejected() =>
        AssertFailsNaming(t => t.AccessTokenLifetime = t.RefreshTokenLifetime, "AccessTokenLifetime");

    [Fact]
    public void AnAccessTokenLifetimeLongerThanTheRefreshTokenLifetimeIsRejected() =>
        AssertFailsNaming(t => t.AccessTokenLifetime = TimeSpan.FromDays(2), "AccessTokenLifetime");

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void ANonPositiveAccessTokenLifetimeIsRejected(int seconds)
    {
        var result = Validate(t => t.AccessTokenLifetime = TimeSpan.FromSeconds(seconds));

        Assert.Contains(result.Failures!, f => f.Contains("AccessTokenLifetime must be positive", StringComparison.Ordinal));
    }

    [Fact]
    public void ARefreshTokenLifetimeLongerThanTheSessionLifetimeIsRejected() =>
        AssertFailsNaming(t => t.RefreshTokenLifetime = TimeSpan.FromDays(8), "RefreshTokenLifetime");

    [Fact]
    public void ARefreshTokenLifetimeEqualToTheSessionLifetimeIsAccepted() =>
        AssertValid(t => t.RefreshTokenLifetime = t.SessionLifetime);

    [Fact]
    public void AShortSessionLifetimeBelowTheDefaultRefreshLifetimeIsRejected() =>
        AssertFailsNaming(t => t.SessionLifetime = TimeSpan.FromHours(12), "RefreshTokenLifetime");

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, true)]
    [InlineData(300, true)]
    [InlineData(301, false)]
    public void TheClockSkewMustBeBetweenZeroAndFiveMinutes(int seconds, bool valid)
    {
        void Configure(TesseraTokenOptions t) => t.ClockSkew = TimeSpan.FromSeconds(seconds);
        if (valid)
        {
            AssertValid(Configure);
        }
        else
        {
            AssertFailsNaming(Configure, "ClockSkew");
        }
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, true)]
    [InlineData(60, true)]
    [InlineData(61, false)]
    public void TheReuseGraceWindowMustBeBetweenZeroAndOneMinute(int seconds, bool valid)
    {
        void Configure(TesseraTokenOptions t) => t.ReuseGraceWindow = TimeSpan.FromSeconds(seconds);
        if (valid)
        {
            AssertValid(Configure);
        }
        else
        {
            AssertFailsNaming(Configure, "ReuseGraceWindow");
        }
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(255, false)]
    [InlineData(256, true)]
    [InlineData(65536, true)]
    [InlineData(65537, false)]
    public void MaxTokenLengthMustBeBetween256And65536(int length, bool valid)
    {
        void Configure(TesseraTokenOptions t) => t.MaxTokenLength = length;
        if (valid)
        {
            AssertValid(Configure);
        }
        else
        {
            AssertFailsNaming(Configure, "MaxTokenLength");
        }
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, true)]
    [InlineData(1_000_000, true)]
    [InlineData(1_000_001, false)]
    public void VerifiedTokenCacheSizeMustBeBetween0And1000000(int size, bool valid)
    {
        void Configure(TesseraTokenOptions t) => t.VerifiedTokenCacheSize = size;
        if (valid)
        {
            AssertValid(Configure);
        }
        else
        {
            AssertFailsNaming(Configure, "VerifiedTokenCacheSize");
        }
    }

    [Fact]
    public void ANegativeRevokedRetentionIsRejected()
    {
        var options = ValidOptions();
        options.RevokedRetention = TimeSpan.FromSeconds(-1);

        var result = new TesseraOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith("Tessera:RevokedRetention", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryTokenProblemIsNamedAtOnce()
    {
        var result = Validate(t =>
        {
            t.AccessTokenLifetime = TimeSpan.FromDays(30);
            t.ClockSkew = TimeSpan.FromHours(1);
            t.ReuseGraceWindow = TimeSpan.FromHours(1);
            t.MaxTokenLength = 10;
            t.VerifiedTokenCacheSize = -1;
            t.SessionLifetime = TimeSpan.FromHours(1);
        });

        Assert.True(result.Failed);
        foreach (var option in new[] { "AccessTokenLifetime", "RefreshTokenLifetime", "ClockSkew", "ReuseGraceWindow", "MaxTokenLength", "VerifiedTokenCacheSize" })
        {
            Assert.Contains(result.Failures!, f => f.StartsWith("Tessera:Tokens:" + option, StringComparison.Ordinal));
        }
    }
}
