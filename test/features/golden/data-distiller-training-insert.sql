INSERT INTO cmle_training_features
SELECT userId, timestamp, subscriptionOccurred, emailsReceived, emailsOpened, emailsClicked, productsViewed, propositionInteracts, propositionDismissed, webLinkClicks, minutes_since_emailSent, minutes_since_emailOpened, minutes_since_emailClick, minutes_since_productView, minutes_since_propositionInteract, minutes_since_propositionDismiss, minutes_since_linkClick
FROM (
  SELECT userId, timestamp, eventType,
    CASE WHEN eventType = 'web.formFilledOut' THEN 1 ELSE 0 END AS subscriptionOccurred,
    SUM(CASE WHEN eventType = 'directMarketing.emailSent' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS emailsReceived,
    SUM(CASE WHEN eventType = 'directMarketing.emailOpened' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS emailsOpened,
    SUM(CASE WHEN eventType = 'directMarketing.emailClicked' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS emailsClicked,
    SUM(CASE WHEN eventType = 'commerce.productViews' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS productsViewed,
    SUM(CASE WHEN eventType = 'decisioning.propositionInteract' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS propositionInteracts,
    SUM(CASE WHEN eventType = 'decisioning.propositionDismiss' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS propositionDismissed,
    SUM(CASE WHEN eventType = 'web.webinteraction.linkClicks' THEN 1 ELSE 0 END) OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS webLinkClicks,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'directMarketing.emailSent', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_emailSent,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'directMarketing.emailOpened', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_emailOpened,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'directMarketing.emailClicked', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_emailClick,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'commerce.productViews', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_productView,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'decisioning.propositionInteract', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_propositionInteract,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'decisioning.propositionDismiss', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_propositionDismiss,
    TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'web.webinteraction.linkClicks', 'minutes') OVER (PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS minutes_since_linkClick,
    ROW_NUMBER() OVER (PARTITION BY userId ORDER BY CASE WHEN eventType = 'web.formFilledOut' THEN 0 ELSE 1 END, CASE WHEN eventType = 'web.formFilledOut' THEN timestamp END, CASE WHEN eventType = 'web.formFilledOut' THEN _id END, md5(concat(userId, _id, 'week2')), timestamp, _id) AS row_pick
  FROM (
    SELECT _acmecorp.userid AS userId, timestamp, _id, eventType
    FROM cmle_synthetic_events SNAPSHOT AS OF 1700000000005
    WHERE _acmecorp.userid IS NOT NULL
      AND _acmecorp.userid IN (SELECT _acmecorp.userid FROM cmle_synthetic_events SNAPSHOT BETWEEN 1700000000002 AND 1700000000005)
  ) AS events
) AS featurized
WHERE row_pick = 1
