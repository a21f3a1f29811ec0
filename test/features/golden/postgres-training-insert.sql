INSERT INTO "cmle_training_features"
SELECT "userId", "timestamp", "subscriptionOccurred", "emailsReceived", "emailsOpened", "emailsClicked", "productsViewed", "propositionInteracts", "propositionDismissed", "webLinkClicks", "minutes_since_emailSent", "minutes_since_emailOpened", "minutes_since_emailClick", "minutes_since_productView", "minutes_since_propositionInteract", "minutes_since_propositionDismiss", "minutes_since_linkClick"
FROM (
  SELECT "userId", "timestamp", "eventType",
    CASE WHEN "eventType" = 'web.formFilledOut' THEN 1 ELSE 0 END AS "subscriptionOccurred",
    SUM(CASE WHEN "eventType" = 'directMarketing.emailSent' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "emailsReceived",
    SUM(CASE WHEN "eventType" = 'directMarketing.emailOpened' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "emailsOpened",
    SUM(CASE WHEN "eventType" = 'directMarketing.emailClicked' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "emailsClicked",
    SUM(CASE WHEN "eventType" = 'commerce.productViews' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "productsViewed",
    SUM(CASE WHEN "eventType" = 'decisioning.propositionInteract' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "propositionInteracts",
    SUM(CASE WHEN "eventType" = 'decisioning.propositionDismiss' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "propositionDismissed",
    SUM(CASE WHEN "eventType" = 'web.webinteraction.linkClicks' THEN 1 ELSE 0 END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "webLinkClicks",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'directMarketing.emailSent' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_emailSent",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'directMarketing.emailOpened' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_emailOpened",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'directMarketing.emailClicked' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_emailClick",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'commerce.productViews' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_productView",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'decisioning.propositionInteract' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_propositionInteract",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'decisioning.propositionDismiss' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_propositionDismiss",
    CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = 'web.webinteraction.linkClicks' THEN "timestamp" END) OVER (PARTITION BY "userId" ORDER BY "timestamp", ("_id") COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) / 60 AS DOUBLE PRECISION) AS "minutes_since_linkClick",
    ROW_NUMBER() OVER (PARTITION BY "userId" ORDER BY CASE WHEN "eventType" = 'web.formFilledOut' THEN 0 ELSE 1 END, CASE WHEN "eventType" = 'web.formFilledOut' THEN "timestamp" END, CASE WHEN "eventType" = 'web.formFilledOut' THEN ("_id") COLLATE "C" END, (md5(concat("userId", "_id", 'week2'))) COLLATE "C", "timestamp", ("_id") COLLATE "C") AS "row_pick"
  FROM (
    SELECT ("_acmecorp"->>'userid') AS "userId", "timestamp", "_id", "eventType"
    FROM "cmle_synthetic_events"
    WHERE "_acp_snapshot_id" <= 5
      AND ("_acmecorp"->>'userid') IS NOT NULL
      AND ("_acmecorp"->>'userid') IN (SELECT ("_acmecorp"->>'userid') FROM "cmle_synthetic_events" WHERE "_acp_snapshot_id" > 2 AND "_acp_snapshot_id" <= 5)
  ) AS events
) AS featurized
WHERE "row_pick" = 1
